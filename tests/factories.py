"""Builders for test data shared across test modules."""

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.datastructures import Headers, QueryParams

from gateway.entries import EntriesReplica
from gateway.formats import IngestRequest
from gateway.projects import Project, ProjectRegistry
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings
from schemas.event import Event

__all__ = ["NOW", "fixture", "ingest_request", "make_event"]

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).with_name("fixtures")


def fixture(name: str) -> Any:
    """A seed example as valid JSON, e.g. `fixture("usermaven/bulk")`."""
    return orjson.loads((FIXTURES / f"{name}.json").read_bytes())


def ingest_request(
    body: bytes | Mapping[str, Any] | list[Any],
    projects: list[Project],
    *,
    path: str = "/e",
    headers: Mapping[str, str] | None = None,
    path_params: Mapping[str, str] | None = None,
    query: str = "",
    idempotency_key: str | None = None,
    settings: GatewaySettings | None = None,
) -> IngestRequest:
    """A request as the gateway hands it to a format's parser (no entries replica running)."""
    return IngestRequest(
        path=path,
        body=body if isinstance(body, bytes) else orjson.dumps(body),
        headers=Headers(headers or {}),
        path_params=path_params or {},
        query_params=QueryParams(query),
        client_host="203.0.113.7",
        received_at=NOW,
        projects=ProjectRegistry(projects),
        entries=EntriesReplica(KafkaSettings()),
        settings=settings or GatewaySettings(),
        idempotency_key=idempotency_key,
    )


def make_event(**fields: object) -> Event:
    base: dict[str, object] = {
        "event_id": "e1",
        "project_id": "p1",
        "source_format": "direct",
        "name": "signup",
        "event_time": NOW,
        "received_at": NOW,
    }
    return Event.model_validate(base | fields)
