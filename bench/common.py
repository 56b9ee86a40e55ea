"""What the benchmarks share: a broker (and, when asked, a ClickHouse server) and a development
project in a temporary data folder, a server process that lives for one measurement, the CPU time
processes used, and wrk runs turned into numbers.

Scripts in this folder run as `python bench/<name>.py`, which puts this folder first on
`sys.path`: they import this module as `common`.
"""

import asyncio
import dataclasses
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from headwater.keys import DevCredentials, ensure_dev_project
from headwater.stack import Stack
from headwater.stack.process import stop_child
from runtime.kafka import ensure_topics
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings

__all__ = [
    "BenchEnvironment",
    "WrkResult",
    "bench_environment",
    "cpu_seconds",
    "free_port",
    "measure",
    "post_once",
    "progress",
    "running",
    "serving",
    "vemetric_pageview",
    "wait_ready",
    "write_lua",
    "wrk",
]

DURATION = "10s"
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class BenchEnvironment:
    """A running broker with Headwater's topics, and a data folder holding the dev project."""

    data_dir: Path
    credentials: DevCredentials
    env: dict[str, str]
    """The environment for a component process: this data folder, this broker, this ClickHouse."""
    clickhouse_url: str | None = None
    """The ClickHouse server's HTTP URL, when the benchmark asked for one."""
    service_pids: dict[str, int] = field(default_factory=dict)
    """The local services this environment runs (e.g. `kafka`, `clickhouse`), by name."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int = 0  # completed in the run
    cpu_us_per_request: float | None = None  # of the measured server, when one was named


def progress(message: str) -> None:
    """A progress line on stderr, so stdout keeps only the results table."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    url: str,
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.2,
) -> None:
    """Wait until `url` answers 200, asking every `interval` seconds; fail at once if `process`
    (the server) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(interval)
    raise SystemExit(f"not ready: {url}")


@contextmanager
def bench_environment(
    *, clickhouse: bool = False, tools: tuple[str, ...] = ("wrk",)
) -> Iterator[BenchEnvironment]:
    """Start a local broker (or use `KAFKA_BOOTSTRAP`), with `clickhouse` a local ClickHouse
    server too (or use `CLICKHOUSE_URL`), and a fresh data folder; stop and remove them all when
    the block ends. The command-line `tools` must be installed."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install {tool}")
    work = Path(tempfile.mkdtemp(prefix="headwater-bench-"))
    try:
        settings = HeadwaterSettings(data_dir=work)
        kafka = KafkaSettings(
            bootstrap=os.environ.get("KAFKA_BOOTSTRAP"),
            port=free_port(),
            controller_port=free_port(),
        )
        store = (
            ClickHouseSettings(
                url=os.environ.get("CLICKHOUSE_URL"),
                mode="server",
                http_port=free_port(),
                tcp_port=free_port(),
            )
            if clickhouse
            else ClickHouseSettings()
        )
        stack = Stack(settings, kafka, store)
        progress(f"starting the stack (kafka at {kafka.bootstrap_servers})")
        started = stack.up()
        try:
            asyncio.run(ensure_topics(kafka))
            credentials, _ = ensure_dev_project(settings)
            if credentials is None:
                raise SystemExit(f"no development credentials in {work}")
            env = {
                **os.environ,
                "HEADWATER_DATA_DIR": str(work),
                "KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
            }
            url = store.server_url if clickhouse else None
            if url is not None:
                env["CLICKHOUSE_URL"] = url
            pids = {s.name: s.pid for s in stack.status() if s.pid is not None}
            yield BenchEnvironment(work, credentials, env, url, pids)
        finally:
            progress(f"stopping {', '.join(started) or 'nothing (external broker)'}")
            stack.down(started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def running(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process until the block ends (SIGTERM, then SIGKILL after 30 s)."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop_child(process)


@contextmanager
def serving(
    argv: list[str], env: dict[str, str], port: int, interval: float = 0.2
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; the block starts once its `/readyz` answers 200
    (asked every `interval` seconds)."""
    with running(argv, env) as server:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process=server, interval=interval)
        yield server


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """CPU time (user + system) used so far by a process and, unless told otherwise, its living
    descendants (e.g. a server's worker processes); 0.0 for a process that is gone."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    tree, total = [pid], 0.0
    while tree:
        current = tree.pop()
        total += times.get(current, 0.0)
        if descendants:
            tree += [child for child, parent in parents.items() if parent == current]
    return total


def vemetric_pageview(credentials: DevCredentials) -> bytes:
    """A Vemetric `POST /e` body: one pageview of an identified user, as the SDKs send it."""
    return orjson.dumps(
        {
            "projectToken": credentials.vemetric_token,
            "name": "$pageview",
            "url": "https://example.com/blog/article",
            "identifier": "user_123",
            "displayName": "john@example.com",
        }
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


def wrk(url: str, script: Path | None, connections: int, duration: str = DURATION) -> WrkResult:
    """One wrk run (1 thread). A run with non-2xx answers or socket errors fails the benchmark:
    its numbers would not describe the path being measured."""
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
    runs: int,
    server_pid: int | None = None,
) -> WrkResult:
    """A warm-up run, then `runs` runs; the median of each number. With `server_pid`, also the
    CPU time that process (and its children) used per request: the fair figure on a machine
    whose cores the server shares with the broker and wrk."""
    progress(f"{label}: warm-up ({DURATION}, {connections} connections)")
    wrk(url, script, connections)
    results = []
    for i in range(1, runs + 1):
        progress(f"{label}: run {i}/{runs}")
        cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
        result = wrk(url, script, connections)
        if server_pid and result.requests:
            cpu = (cpu_seconds(server_pid) - cpu_before) * 1e6 / result.requests
            result = dataclasses.replace(result, cpu_us_per_request=cpu)
        progress(
            f"{label}: run {i}/{runs}: {result.requests_per_s:,.0f} req/s, "
            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
            + (f", {result.cpu_us_per_request:.0f} µs CPU/request" if server_pid else "")
        )
        results.append(result)
    cpus = [r.cpu_us_per_request for r in results if r.cpu_us_per_request is not None]
    return WrkResult(
        statistics.median(r.requests_per_s for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        statistics.median(r.requests for r in results),
        statistics.median(cpus) if cpus else None,
    )


def _percentile(out: str, pct: str) -> float:
    match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
    if match is None:
        raise SystemExit(f"no {pct}th percentile in wrk's output:\n{out}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]
