"""Usermaven requests for the tests, as project p1's, taken through the shared request path's part
before Kafka (`tests/gateway/parts.py`)."""

from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError
from gateway.ingest import Accepted
from gateway.projects import Project, UsermavenKey, hash_secret
from gateway.settings import GatewaySettings
from schemas.event import Event
from tests.gateway.parts import accepted, events, request_parts

__all__ = [
    "BROWSER",
    "PATH",
    "PUBLIC",
    "TOKEN",
    "accept",
    "minimal",
    "parse",
    "rejection",
    "reply_body",
]

PROJECTS = [
    Project(
        id="p1",
        usermaven_keys=[UsermavenKey(api_key="API_KEY", server_token_hash=hash_secret("SECRET"))],
    )
]
TOKEN = "token=API_KEY.SECRET"
PATH = "/api/v1/s2s/event"
BROWSER = "/api/v1/event"
PUBLIC = "token=API_KEY"


def accept(
    body: object,
    query: str = TOKEN,
    *,
    path: str = PATH,
    key: str | None = None,
    settings: GatewaySettings | None = None,
) -> Accepted:
    parts = request_parts(
        body,  # type: ignore[arg-type]
        path=path, query=query, idempotency_key=key, settings=settings,
        headers={"user-agent": "Mozilla/5.0 test"},
    )  # fmt: skip
    return accepted(parts, PROJECTS)


def reply_body(done: Accepted) -> Any:
    return orjson.loads(done.translation.reply.json or b"")


def parse(
    body: object, query: str = TOKEN, key: str | None = None, path: str = PATH
) -> list[Event]:
    """The events of a body with nothing set aside."""
    done = accept(body, query, path=path, key=key)
    assert (done.translation.reply.json, done.set_aside) == (b'{"status":"ok"}', 0)
    return events(done)


def rejection(body: object, query: str = TOKEN, path: str = PATH) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        accept(body, query, path=path)
    return caught.value


def minimal(**fields: Any) -> dict[str, Any]:
    return {"event_type": "signup", "user": {"id": "u1"}} | fields
