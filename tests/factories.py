"""Builders for test data shared across test modules."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schemas.event import Event

__all__ = ["NOW", "fixture", "make_event"]

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).with_name("fixtures")


def fixture(name: str) -> Any:
    """A seed example as valid JSON, e.g. `fixture("usermaven/bulk")`."""
    return orjson.loads((FIXTURES / f"{name}.json").read_bytes())


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
