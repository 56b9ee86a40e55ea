"""Builders for test data shared across test modules."""

from datetime import UTC, datetime

from schemas.event import Event

__all__ = ["NOW", "make_event"]

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


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
