"""Which HTTP server should run the gateway? Measures uvicorn (uvloop + httptools) and granian.

Both serve the same gateway app (`gateway.asgi:app_from_env`, one worker process), first on
`GET /healthz` (the server's own overhead) and then on the real path, Vemetric `POST /e`, which
waits for the Kafka ack of every event. Load comes from wrk (1 thread, 64 connections) on the
same 2-core machine as the gateway and the broker, so all three share the CPU. Each case runs
RUNS times; the median is reported.

    make bench                                  # starts its own broker
    KAFKA_BOOTSTRAP=127.0.0.1:9092 make bench    # or uses yours
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
import urllib.request
from pathlib import Path

import orjson

from headwater.projects import ensure_dev_project
from headwater.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from headwater.stack import Stack
from headwater.topics import ensure_topics

__all__ = ["main"]

RUNS = 3
DURATION = "10s"
CONNECTIONS = 64
SERVERS = {
    "uvicorn": lambda port: [
        sys.executable, "-m", "uvicorn", "--factory", "gateway.asgi:app_from_env",
        "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ],
    "granian": lambda port: [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--port", str(port), "--loop", "uvloop", "--workers", "1",
        "--no-access-log", "--log-level", "warning", "gateway.asgi:app_from_env",
    ],
    "granian-st": lambda port: [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--port", str(port), "--loop", "uvloop", "--workers", "1", "--runtime-mode", "st",
        "--no-access-log", "--log-level", "warning", "gateway.asgi:app_from_env",
    ],
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"not ready: {url}")


def wrk(url: str, script: Path | None) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of one wrk run."""
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency"]
    argv += ["-s", str(script)] if script else []
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors during the run:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rps, _percentile(out, "50"), _percentile(out, "99")


def _percentile(out: str, pct: str) -> float:
    value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="headwater-bench-"))
    settings = HeadwaterSettings(data_dir=work)
    kafka = KafkaSettings(bootstrap=os.environ.get("KAFKA_BOOTSTRAP"), port=free_port(),
                          controller_port=free_port())  # fmt: skip
    stack = Stack(settings, kafka, ClickHouseSettings())
    started = stack.up()
    asyncio.run(ensure_topics(kafka))
    credentials, _ = ensure_dev_project(settings)
    assert credentials is not None
    body = orjson.dumps(
        {
            "projectToken": credentials.vemetric_token,
            "name": "$pageview",
            "url": "https://example.com/blog/article",
            "identifier": "user_123",
            "displayName": "john@example.com",
        }
    ).decode()
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{body}]]\n"
    )
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(work),
        "KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
    }
    print(f"| server | endpoint | req/s (median of {RUNS}) | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    try:
        for name, argv in SERVERS.items():
            port = free_port()
            server = subprocess.Popen(argv(port), env=env, stdout=subprocess.DEVNULL)
            try:
                base = f"http://127.0.0.1:{port}"
                wait_ready(f"{base}/readyz")
                for endpoint, path, lua in (("GET /healthz", "/healthz", None),
                                            ("POST /e", "/e", script)):  # fmt: skip
                    wrk(f"{base}{path}", lua)  # warm-up
                    runs = [wrk(f"{base}{path}", lua) for _ in range(RUNS)]
                    rps, p50, p99 = (statistics.median(r[i] for r in runs) for i in range(3))
                    print(
                        f"| {name} | {endpoint} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |", flush=True
                    )
            finally:
                server.terminate()
                server.wait(30)
    finally:
        stack.down(started)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
