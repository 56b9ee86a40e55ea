"""What records become for ClickHouse: events as single JSON lines, entries and bot counts as
columnar rows."""

from datetime import date

import orjson
import pytest

from schemas import topics
from schemas.entry import Entry
from schemas.event import encode
from sinks.base import Source
from sinks.clickhouse.rows import BOT_COLUMNS, ENTRY_COLUMNS, EntryChange, bot_rows, entry_rows
from sinks.clickhouse.rows import decode_row as decode
from tests.factories import NOW, make_event

ENTRY = Entry(
    project_id="p1", embeddable_id="flow", identifier_key="email",
    identifier_value="a@b.c", entry_id="x", updated_at=NOW,
)  # fmt: skip


def test_an_event_stays_its_json_on_one_line() -> None:
    value = encode(make_event())
    assert decode(topics.EVENTS, Source(0, b"k", value)) == value
    spread = orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2)
    line = decode(topics.EVENTS, Source(0, b"k", spread))
    assert b"\n" not in line and orjson.loads(line) == orjson.loads(value)


@pytest.mark.parametrize("value", [None, b""])
def test_an_empty_record_is_not_an_event(value: bytes | None) -> None:
    with pytest.raises(ValueError, match="empty record"):
        decode(topics.EVENTS, Source(0, b"k", value))


def test_an_entry_and_its_deletion_become_rows_in_column_order() -> None:
    written = decode(topics.ENTRIES, Source(7, ENTRY.kafka_key(), ENTRY.encode()))
    deleted = decode(topics.ENTRIES, Source(8, ENTRY.kafka_key(), None))
    assert deleted.entry is None
    rows = [dict(zip(ENTRY_COLUMNS, row, strict=True)) for row in entry_rows([written, deleted])]
    assert [(r["entry_id"], r["deleted"], r["version"]) for r in rows] == [
        ("x", False, 7),
        ("", True, 8),
    ]
    assert rows[0]["updated_at"] == NOW
    assert rows[1]["updated_at"] == deleted.written_at
    assert rows[0]["identifier_value"] == rows[1]["identifier_value"] == "a@b.c"


@pytest.mark.parametrize("key", [None, b"not json", b'["p1", "flow", "email"]', b"[1, 2, 3, 4]"])
def test_an_entries_key_is_four_strings(key: bytes | None) -> None:
    with pytest.raises(ValueError):
        EntryChange.decode(key, ENTRY.encode())


def test_bot_events_are_counted_per_project_day_format_and_user_agent() -> None:
    events = [
        decode(topics.BOTS, Source(n, b"k", encode(make_event(event_id=f"e{n}", context=c))))
        for n, c in enumerate([{"user_agent": "Googlebot"}, {"user_agent": "Googlebot"}, {}])
    ]
    rows = [dict(zip(BOT_COLUMNS, row, strict=True)) for row in bot_rows(events)]
    assert [(r["user_agent"], r["events"]) for r in rows] == [("Googlebot", 2), ("", 1)]
    assert {(r["project_id"], r["day"], r["source_format"]) for r in rows} == {
        ("p1", date(2026, 3, 4), "direct")
    }
