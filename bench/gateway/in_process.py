"""The gateway's whole ASGI app driven in process, its publisher acknowledging every record at
once: routing, middleware, body reading, parsing and the response, and none of the broker's or
the network's work. bench/gateway/instructions.py runs this under callgrind.

    python -m bench.gateway.in_process single 100    # one warm-up, then 100 requests

Imports are kept to what the gateway needs: under callgrind, every import costs.
"""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from unittest.mock import patch

from bench.gateway.bodies import API_KEY, SERVER_TOKEN, TOKEN, in_process_requests
from gateway.app import create_app
from gateway.projects import Project, ProjectSource, UsermavenKey, hash_secret
from gateway.publisher import RecordPublisher
from gateway.records import OutgoingRecord
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings

__all__ = ["drive"]


def _app() -> Callable[..., Awaitable[None]]:
    """The gateway's app for a project of its own."""
    project = Project(
        id="bench",
        vemetric_tokens=[TOKEN],
        usermaven_keys=[UsermavenKey(api_key=API_KEY, server_token_hash=hash_secret(SERVER_TOKEN))],
    )
    return create_app(GatewaySettings(), KafkaSettings(), ProjectSource.of([project]))


async def _acknowledged(publisher: RecordPublisher, records: list[OutgoingRecord]) -> list[int]:
    """`RecordPublisher.publish` as if Kafka acknowledged every record at once."""
    return [0] * len(records)


async def drive(case: str, count: int) -> None:
    """One warm-up request, then `count` more; any answer but 200 fails."""
    path, query, body = in_process_requests()[case]
    with patch.object(RecordPublisher, "publish", _acknowledged):
        await _requests(_app(), path, query, body, count)


async def _requests(
    app: Callable[..., Awaitable[None]], path: str, query: bytes, body: bytes, count: int
) -> None:
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
            raise SystemExit(f"{path} answered {statuses}")


if __name__ == "__main__":
    case, count = sys.argv[1:3]
    if case not in in_process_requests():
        raise SystemExit(f"CASE is one of {', '.join(in_process_requests())}")
    asyncio.run(drive(case, int(count)))
