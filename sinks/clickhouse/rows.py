"""What a record becomes for ClickHouse: an event's JSON line, or a columnar row.

Events stay JSON (ClickHouse parses and checks them itself); entries and bot counts are small
tables written as columns, in the order of `ENTRY_COLUMNS` and `BOT_COLUMNS`.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, decode
from sinks.base import Source

__all__ = [
    "BOT_COLUMNS",
    "ENTRY_COLUMNS",
    "EntryChange",
    "bot_rows",
    "decode_row",
    "entry_rows",
]

BOT_COLUMNS = ("project_id", "day", "source_format", "user_agent", "events")
ENTRY_COLUMNS = (
    "project_id", "embeddable_id", "identifier_key", "identifier_value", "entry_id",
    "updated_at", "deleted", "version",
)  # fmt: skip


@dataclass(frozen=True)
class EntryChange:
    """A record of the entries topic: the entry, or its deletion (a tombstone)."""

    key: tuple[str, str, str, str]  # project, embeddable, identifier key, identifier value
    entry: Entry | None
    offset: int
    written_at: datetime

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None, offset: int = 0) -> "EntryChange":
        parts = orjson.loads(key or b"null")
        if not (
            isinstance(parts, list) and len(parts) == 4 and all(isinstance(p, str) for p in parts)
        ):
            raise ValueError("an entries key is a JSON array of four strings")
        entry = Entry.model_validate_json(value) if value is not None else None
        return cls(tuple(parts), entry, offset, datetime.now(UTC))  # type: ignore[arg-type]


def decode_row(topic: str, source: Source) -> Any:
    """The row a record of `topic` becomes; raises ValidationError or ValueError for a bad one."""
    if topic == topics.ENTRIES:
        return EntryChange.decode(source.key, source.value, source.offset)
    if topic == topics.BOTS:
        return decode(source.value or b"")
    return _json_line(source.value)


def _json_line(value: bytes | None) -> bytes:
    """The record as one JSON line for ClickHouse, which checks it (constraints on `events`)."""
    if not value:
        raise ValueError("an empty record is not an event")
    return value if b"\n" not in value else orjson.dumps(orjson.loads(value))


def bot_rows(events: list[Event]) -> list[list[Any]]:
    """One row per project, day, format and user agent, with its count of events."""
    counts = Counter(
        (e.project_id, e.event_time.date(), e.source_format, e.context.get("user_agent", ""))
        for e in events
    )
    return [[*key, n] for key, n in counts.items()]


def entry_rows(changes: list[EntryChange]) -> list[list[Any]]:
    """One row per change; a deletion keeps the key, an empty entry id and `deleted` set."""
    return [
        [*change.key, change.entry.entry_id if change.entry else "",
         change.entry.updated_at if change.entry else change.written_at,
         change.entry is None, change.offset]
        for change in changes
    ]  # fmt: skip
