"""Requests as a format sees them, taken through the shared request path's part that needs no
Kafka (`gateway.ingest.accept`: read, authenticate, translate, choose topics)."""

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.routing import compile_path

from gateway.app import ENDPOINTS
from gateway.formats import Endpoint, RequestParts
from gateway.ingest import Accepted, accept
from gateway.projects import Project, ProjectRegistry
from gateway.settings import GatewaySettings
from gateway.validation import Limits
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.event import Event, decode
from tests.factories import NOW

__all__ = ["accepted", "changed", "endpoint", "events", "letters", "request_parts"]


def request_parts(
    body: bytes | Mapping[str, Any] | list[Any],
    *,
    path: str = "/e",
    headers: Mapping[str, str] | None = None,
    path_params: Mapping[str, str] | None = None,
    query: str = "",
    idempotency_key: str | None = None,
    settings: GatewaySettings | None = None,
) -> RequestParts:
    """A request as the gateway hands it to a format, received at NOW from 203.0.113.7."""
    return RequestParts(
        path=path,
        body=body if isinstance(body, bytes) else orjson.dumps(body),
        headers=Headers(headers or {}),
        path_params=path_params or _path_params(path),
        query_params=QueryParams(query),
        client_host="203.0.113.7",
        received_at=NOW,
        limits=Limits.of(settings or GatewaySettings()),
        idempotency_key=idempotency_key,
    )


def endpoint(path: str, method: str = "POST") -> Endpoint[Any]:
    """The endpoint the app routes `method path` to (the first that matches, as its router)."""
    return next(spec for spec, _ in _matches(path) if spec.method == method)


def accepted(parts: RequestParts, projects: list[Project], method: str = "POST") -> Accepted:
    """What the request path makes of `parts` before Kafka, or the GatewayError it answers."""
    return accept(endpoint(parts.path, method), parts, ProjectRegistry(projects))


def events(done: Accepted, topic: str = topics.RAW) -> list[Event]:
    return [decode(r.value or b"") for r in done.records if r.topic == topic]


def letters(done: Accepted) -> list[DeadLetter]:
    return [
        DeadLetter.model_validate_json(r.value or b"")
        for r in done.records
        if r.topic == topics.DEAD_LETTER
    ]


def _path_params(path: str) -> dict[str, str]:
    return next((params for _, params in _matches(path)), {})


def _matches(path: str) -> Iterator[tuple[Endpoint[Any], dict[str, str]]]:
    """The endpoints whose path matches `path`, in the router's order, with its parameters."""
    for spec in ENDPOINTS:
        if found := compile_path(spec.path)[0].match(path):
            yield spec, found.groupdict()


def changed(body: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with `change` applied; a None in `change` removes the field."""
    return {k: v for k, v in {**body, **change}.items() if v is not None}
