"""What the benchmarks share: a broker and a development project in a temporary data folder, a
server process that lives for one measurement, and wrk runs turned into numbers.

Scripts in this folder run as `python bench/<name>.py`, which puts this folder first on
`sys.path`: they import this module as `common`.
"""

import asyncio
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
from dataclasses import dataclass
from pathlib import Path

import orjson

from headwater.projects import DevCredentials, ensure_dev_project
from headwater.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from headwater.stack import Stack
from headwater.topics import ensure_topics

__all__ = [
    "BenchEnvironment",
    "WrkResult",
    "bench_environment",
    "free_port",
    "measure",
    "post_once",
    "progress",
    "serving",
    "vemetric_pageview",
    "wait_ready",
    "write_lua",
    "wrk",
]

DURATION = "10s"
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class BenchEnvironment:
    """A running broker with Headwater's topics, and a data folder holding the dev project."""

    data_dir: Path
    credentials: DevCredentials
    env: dict[str, str]
    """The environment for a gateway process: this data folder and this broker."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float


def progress(message: str) -> None:
    """A progress line on stderr, so stdout keeps only the results table."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until `url` answers 200; fail at once if `process` (the server) exits meanwhile."""
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
        time.sleep(0.2)
    raise SystemExit(f"not ready: {url}")


@contextmanager
def bench_environment() -> Iterator[BenchEnvironment]:
    """Start a local broker (or use `KAFKA_BOOTSTRAP`) and a fresh data folder; stop and remove
    both when the block ends."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="headwater-bench-"))
    try:
        settings = HeadwaterSettings(data_dir=work)
        kafka = KafkaSettings(
            bootstrap=os.environ.get("KAFKA_BOOTSTRAP"),
            port=free_port(),
            controller_port=free_port(),
        )
        stack = Stack(settings, kafka, ClickHouseSettings())
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
            yield BenchEnvironment(work, credentials, env)
        finally:
            progress(f"stopping {', '.join(started) or 'nothing (external broker)'}")
            stack.down(started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def serving(argv: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; the block starts once its `/readyz` answers 200."""
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process=server)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
    if rps is None:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{out}")
    return WrkResult(float(rps.group(1)), _percentile(out, "50"), _percentile(out, "99"))


def measure(label: str, url: str, script: Path | None, connections: int, runs: int) -> WrkResult:
    """A warm-up run, then `runs` runs; the median of each number."""
    progress(f"{label}: warm-up ({DURATION}, {connections} connections)")
    wrk(url, script, connections)
    results = []
    for i in range(1, runs + 1):
        progress(f"{label}: run {i}/{runs}")
        result = wrk(url, script, connections)
        progress(
            f"{label}: run {i}/{runs}: {result.requests_per_s:,.0f} req/s, "
            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
        )
        results.append(result)
    return WrkResult(
        statistics.median(r.requests_per_s for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
    )


def _percentile(out: str, pct: str) -> float:
    match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
    if match is None:
        raise SystemExit(f"no {pct}th percentile in wrk's output:\n{out}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]
