"""Which HTTP server should run the gateway? Measures uvicorn (uvloop + httptools) and granian.

Both serve the same gateway app (`gateway.asgi:app_from_env`, one worker process), first on
`GET /healthz` (the server's own overhead) and then on the real path, Vemetric `POST /e`, which
waits for the Kafka ack of every event. Load comes from wrk (1 thread, 64 connections) on the
same 2-core machine as the gateway and the broker, so all three share the CPU. Each case runs
RUNS times; the median is reported.

    make bench-servers                                  # starts its own broker
    KAFKA_BOOTSTRAP=127.0.0.1:9092 make bench-servers    # or uses yours
"""

import sys

from common import bench_environment, free_port, measure, serving, vemetric_pageview, write_lua

__all__ = ["main"]

RUNS = 3
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


def main() -> None:
    with bench_environment() as bench:
        script = write_lua(bench.data_dir / "post.lua", vemetric_pageview(bench.credentials))
        print(f"| server | endpoint | req/s (median of {RUNS}) | p50 ms | p99 ms |")
        print("|---|---|---|---|---|")
        for name, argv in SERVERS.items():
            port = free_port()
            with serving(argv(port), bench.env, port):
                base = f"http://127.0.0.1:{port}"
                for endpoint, path, lua in (("GET /healthz", "/healthz", None),
                                            ("POST /e", "/e", script)):  # fmt: skip
                    result = measure(f"{name} {endpoint}", f"{base}{path}", lua, CONNECTIONS, RUNS)
                    print(
                        f"| {name} | {endpoint} | {result.requests_per_s:,.0f} "
                        f"| {result.p50_ms:.2f} | {result.p99_ms:.2f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
