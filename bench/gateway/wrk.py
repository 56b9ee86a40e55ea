"""HTTP load from wrk (1 thread) turned into numbers: requests/s, p50 and p99 of each run, their
medians, and the CPU the measured server used per request.

A run with non-2xx answers or socket errors fails the benchmark: its numbers would not describe
the path being measured.
"""

import dataclasses
import re
import statistics
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import cpu_seconds
from bench.environment import progress

__all__ = ["Plan", "WrkResult", "measure", "measured_run", "post_once", "write_lua", "wrk"]

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Plan:
    """How a case is loaded: a warm-up run, then `runs` runs of `duration` (wrk's `-d`) each."""

    runs: int = 3
    duration: str = "10s"

    @classmethod
    def quick(cls) -> "Plan":
        """One short run: enough to check the wiring, not to measure."""
        return cls(runs=1, duration="2s")


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int = 0  # completed in the run
    cpu_us_per_request: float | None = None  # of the measured server, when one was named

    @classmethod
    def median(cls, runs: list["WrkResult"]) -> "WrkResult":
        """The median of each number over the runs."""
        cpus = [r.cpu_us_per_request for r in runs if r.cpu_us_per_request is not None]
        return cls(
            statistics.median(r.requests_per_s for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            int(statistics.median(r.requests for r in runs)),
            statistics.median(cpus) if cpus else None,
        )

    def figures(self) -> dict[str, float]:
        """The numbers of the results file."""
        return {"requests_per_s": self.requests_per_s, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms}

    def describe(self) -> str:
        cpu = self.cpu_us_per_request
        return (
            f"{self.requests_per_s:,.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"
            + (f", {cpu:.0f} µs CPU/request" if cpu is not None else "")
        )


def write_lua(path: Path, body: bytes, content_type: str = "application/json") -> Path:
    """A wrk script that POSTs the same body on every request."""
    text = body.decode()
    level = 0
    while f"]{'=' * level}]" in text + "]":  # a long bracket the body cannot close early
        level += 1
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f"wrk.body = [{'=' * level}[{text}]{'=' * level}]\n"
    )
    return path


def post_once(url: str, body: bytes, content_type: str = "application/json") -> bytes:
    """POST once and return the answer's body; anything but 2xx fails the benchmark at once."""
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.headers.get("X-Headwater-Error", "")
        raise SystemExit(f"POST {url} answered {exc.code}: {exc.read()[:500]!r} {detail}") from exc


def wrk(url: str, script: Path | None, connections: int, duration: str) -> WrkResult:
    """One wrk run (1 thread)."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}", "--latency"]
    argv += ["-s", str(script)] if script else []
    run = subprocess.run([*argv, url], capture_output=True, text=True, check=True)
    out = run.stdout
    if run.stderr.strip():  # e.g. a script error: wrk reports it and runs on without the script
        raise SystemExit(f"wrk failed on {url}:\n{run.stderr}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors during the run of {url}:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if rps is None or done is None:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{out}")
    p50, p99 = _percentile(out, "50"), _percentile(out, "99")
    return WrkResult(float(rps.group(1)), p50, p99, int(done.group(1)))


def measure(
    label: str,
    url: str,
    script: Path | None,
    connections: int,
    plan: Plan,
    server_pid: int | None = None,
) -> list[WrkResult]:
    """A warm-up run, then the plan's runs. With `server_pid`, each run also has the CPU time
    that process (and its children) used per request: the fair figure on a machine whose cores
    the server shares with the broker and wrk."""
    progress(f"{label}: warm-up ({plan.duration}, {connections} connections)")
    wrk(url, script, connections, plan.duration)
    results = []
    for i in range(1, plan.runs + 1):
        progress(f"{label}: run {i}/{plan.runs}")
        result = measured_run(url, script, connections, plan.duration, server_pid)
        progress(f"{label}: run {i}/{plan.runs}: {result.describe()}")
        results.append(result)
    return results


def measured_run(
    url: str, script: Path | None, connections: int, duration: str, server_pid: int | None
) -> WrkResult:
    """One wrk run; with `server_pid`, the CPU time that process (and its children) used per
    request (bench/peer/ alternates such runs of two servers)."""
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    result = wrk(url, script, connections, duration)
    if server_pid and result.requests:
        cpu = (cpu_seconds(server_pid) - cpu_before) * 1e6 / result.requests
        result = dataclasses.replace(result, cpu_us_per_request=cpu)
    return result


def _percentile(out: str, pct: str) -> float:
    match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
    if match is None:
        raise SystemExit(f"no {pct}th percentile in wrk's output:\n{out}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]
