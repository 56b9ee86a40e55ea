"""Instructions per request of the gateway's own Python work: repeatable where wrk is not.

On a shared 2-core machine wrk's rates move by ±25% between identical runs; instruction counts
(valgrind's callgrind) do not. This drives the whole ASGI app in process (routing, middleware,
body reading, parsing, the response) with Kafka's acknowledgement answered at once, so it counts
the gateway's work per request and none of the broker's or the network's. Each case runs twice
under callgrind, with 0 and with N requests after one warm-up; the difference over N is the cost
of one request. Needs `valgrind` (Debian's package).

Run it with `python -P` (3.11+: the script's folder is not put on `sys.path`), since this folder's
`gateway.py` would otherwise hide the `gateway` package:

    make bench-instructions                                         # both cases
    python -P bench/gateway_instructions.py --child single 100      # one process, no valgrind
"""

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable

import orjson

from gateway.app import create_app
from gateway.formats import OutgoingRecord
from gateway.projects import Project, ProjectSource, UsermavenKey, hash_secret
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings

__all__ = ["main"]

TOKEN, API_KEY, SERVER_TOKEN = "proj_bench", "k1", "s1"
REQUESTS = {"single": 3000, "bulk": 200}
BULK_SIZE = 100
_COLLECTED = re.compile(r"Collected : (\d+)")


def _bodies() -> dict[str, tuple[str, bytes, bytes]]:
    """Per case: path, query string, body (the seed's pageview; a Usermaven bulk body)."""
    pageview = {
        "projectToken": TOKEN, "name": "$pageview", "url": "https://example.com/blog/article",
        "identifier": "user_123", "displayName": "john@example.com",
    }  # fmt: skip
    element = {
        "api_key": API_KEY, "event_id": "", "event_type": "plan_upgraded",
        "event_attributes": {"amount": 100, "currency": "USD"},
        "company": {"id": "65f02acc", "name": "Acme", "created_at": "2022-02-15T17:25:08"},
        "src": "http", "url": "http://localhost:3000/example", "doc_path": "/example",
    }  # fmt: skip
    bulk = [
        element | {"user": {"anonymous_id": f"anon{i}", "id": f"user{i}", "email": "u@a.example"}}
        for i in range(BULK_SIZE)
    ]
    token = f"token={API_KEY}.{SERVER_TOKEN}".encode()
    return {
        "single": ("/e", b"", orjson.dumps(pageview)),
        "bulk": ("/api/v1/s2s/event", token, orjson.dumps(bulk)),
    }


def _app() -> Callable[..., Awaitable[None]]:
    """The gateway's app, its publisher acknowledging every record at once."""
    project = Project(
        id="bench",
        vemetric_tokens=[TOKEN],
        usermaven_keys=[UsermavenKey(api_key=API_KEY, server_token_hash=hash_secret(SERVER_TOKEN))],
    )
    app = create_app(GatewaySettings(), KafkaSettings(), ProjectSource.of([project]))

    async def acknowledged(records: list[OutgoingRecord]) -> list[int]:
        return [0] * len(records)

    for route in app.router.routes:  # the Gateway is in every ingest handler's closure
        for cell in getattr(getattr(route, "endpoint", None), "__closure__", None) or ():
            if hasattr(cell.cell_contents, "publisher"):
                cell.cell_contents.publisher.publish = acknowledged
    return app


async def _requests(case: str, count: int) -> None:
    path, query, body = _bodies()[case]
    app = _app()
    headers = [(b"content-type", b"application/json"), (b"user-agent", b"wrk")]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query, "headers": headers, "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080), "app": app,
    }  # fmt: skip
    for _ in range(count + 1):  # one warm-up
        statuses: list[int] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object], seen: list[int] = statuses) -> None:
            if message["type"] == "http.response.start":
                seen.append(int(message["status"]))  # type: ignore[call-overload]

        await app(scope, receive, send)
        if statuses != [200]:
            raise SystemExit(f"{case}: {path} answered {statuses}")


def _instructions(case: str, count: int) -> int:
    argv = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-P", __file__, "--child", case, str(count),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("CASE", "REQUESTS"))
    args = parser.parse_args()
    if args.child:
        asyncio.run(_requests(args.child[0], int(args.child[1])))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    print("| case | requests | instructions per request | per event |")
    print("|---|---|---|---|")
    for case, count in REQUESTS.items():
        print(f"[bench] {case}: callgrind, 0 and {count} requests", file=sys.stderr, flush=True)
        per_request = (_instructions(case, count) - _instructions(case, 0)) / count
        per_event = per_request / (BULK_SIZE if case == "bulk" else 1)
        print(f"| {case} | {count} | {per_request:,.0f} | {per_event:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
