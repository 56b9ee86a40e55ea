"""Which HTTP server should run the gateway? Measures uvicorn (uvloop + httptools) and granian.

Both serve the same gateway app (`gateway.asgi:app_from_env`, one worker process), first on
`GET /healthz` (the server's own overhead) and then on the real path, Vemetric `POST /e`, which
waits for the Kafka ack of every event. Load comes from wrk (1 thread, 64 connections) on the
same 2-core machine as the gateway and the broker, so all three share the CPU. Each case runs
3 times after a warm-up; the median is reported, with the server's CPU per request from /proc
(its worker processes included): where the three share two cores, req/s alone can mislead.

    make bench-servers                                  # starts its own broker
    KAFKA_BOOTSTRAP=127.0.0.1:9092 make bench-servers   # or uses yours
"""

import sys
from collections.abc import Callable
from pathlib import Path

from bench.environment import bench_environment, free_port, serving
from bench.gateway.bodies import vemetric_pageview
from bench.gateway.wrk import Plan, WrkResult, measure, write_lua
from bench.results import CaseResult
from bench.runner import Benchmark, run_alone

__all__ = ["BENCHMARK", "run"]

CONNECTIONS = 64
APP = "gateway.asgi:app_from_env"
SERVERS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn": lambda port: [
        sys.executable, "-m", "uvicorn", "--factory", APP,
        "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ],
    "granian": lambda port: [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--port", str(port), "--loop", "uvloop", "--workers", "1",
        "--no-access-log", "--log-level", "warning", APP,
    ],
    "granian-st": lambda port: [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--port", str(port), "--loop", "uvloop", "--workers", "1", "--runtime-mode", "st",
        "--no-access-log", "--log-level", "warning", APP,
    ],
}  # fmt: skip
ENDPOINTS = {"GET /healthz": "/healthz", "POST /e": "/e"}


def run(quick: bool) -> list[CaseResult]:
    """Each server in turn, on each endpoint."""
    plan = Plan.quick() if quick else Plan()
    results = []
    with bench_environment(tools=("wrk",)) as bench:
        script = write_lua(
            bench.data_dir / "post.lua", vemetric_pageview(bench.credentials.vemetric_token)
        )
        print(
            f"| server | endpoint | req/s (median of {plan.runs}) | p50 ms | p99 ms "
            "| CPU µs/request |"
        )
        print("|---|---|---|---|---|---|")
        for name, argv in SERVERS.items():
            port = free_port()
            with serving(argv(port), bench.env, port) as server:
                for endpoint, path in ENDPOINTS.items():
                    lua = script if endpoint.startswith("POST") else None
                    url = f"http://127.0.0.1:{port}{path}"
                    label = f"{name} {endpoint}"
                    results.append(measure_endpoint(label, url, lua, plan, server.pid))
    return results


def measure_endpoint(label: str, url: str, script: Path | None, plan: Plan, pid: int) -> CaseResult:
    """One server (process `pid`) on one endpoint: its table row, and its result."""
    runs = measure(label, url, script, CONNECTIONS, plan, server_pid=pid)
    median = WrkResult.median(runs)
    cpu = median.cpu_us_per_request or 0.0
    server, endpoint = label.split(" ", 1)
    print(
        f"| {server} | {endpoint} | {median.requests_per_s:,.0f} "
        f"| {median.p50_ms:.2f} | {median.p99_ms:.2f} | {cpu:,.0f} |",
        flush=True,
    )
    figures = median.figures() | {"cpu_us_per_request": cpu}
    return CaseResult(label, figures, [r.requests_per_s for r in runs])


BENCHMARK = Benchmark("gateway: HTTP servers", "make bench-servers", run)

if __name__ == "__main__":
    run_alone(BENCHMARK)
