"""The gateway's whole ASGI app driven in process, its publisher acknowledging every record at
once: routing, middleware, body reading, parsing and the response, and none of the broker's or
the network's work. bench/gateway/instructions.py runs this under callgrind.

    python -m bench.gateway.in_process single 100    # one warm-up, then 100 requests

Imports are kept to what the gateway needs: under callgrind, every import costs.
"""

import asyncio
import sys
from collections.abc import Awaitable, Callable

import orjson

from gateway.app import create_app
from gateway.formats import OutgoingRecord
from gateway.projects import Project, ProjectSource, UsermavenKey, hash_secret
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings

__all__ = ["BULK_SIZE", "CASES", "drive"]

TOKEN, API_KEY, SERVER_TOKEN = "proj_bench", "k1", "s1"
BULK_SIZE = 100
CASES = ("single", "bulk")


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


async def drive(case: str, count: int) -> None:
    """One warm-up request, then `count` more; any answer but 200 fails."""
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


if __name__ == "__main__":
    case, count = sys.argv[1:3]
    if case not in CASES:
        raise SystemExit(f"CASE is one of {', '.join(CASES)}")
    asyncio.run(drive(case, int(count)))
