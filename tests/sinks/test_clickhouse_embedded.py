"""The ClickHouse sink on the embedded engine (clickhouse-connect `interface="chdb"`): the same
code as against a server, so schema, deduplication tokens and refused rows are checked here fast;
the HTTP server's faults are in test_clickhouse_faults.py."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runtime.settings import ClickHouseSettings
from schemas import topics
from schemas.entry import Entry
from schemas.event import encode
from sinks.base import Source
from sinks.clickhouse import ClickHouseSink, EntryChange, connect
from sinks.migrate import load_migrations, migrate
from tests.factories import NOW, make_event

pytestmark = pytest.mark.integration


@asynccontextmanager
async def embedded_sink(data_dir: Path) -> AsyncIterator[ClickHouseSink]:
    sink = ClickHouseSink(ClickHouseSettings(mode="embedded"), data_dir, max_rows=10, max_age_s=60)
    await sink.setup()
    try:
        yield sink
    finally:
        await sink.close()


def add(sink: ClickHouseSink, offset: int, topic: str = topics.EVENTS, **fields: object) -> None:
    source = Source(offset, b"k", encode(make_event(event_id=f"e{offset}", **fields)))
    sink.add(sink.decode(topic, source), topic, 0, source)


async def scalar(sink: ClickHouseSink, sql: str) -> str:
    return (await sink.pretty_query(f"{sql} FORMAT TabSeparated")).strip()


def test_a_batch_lands_and_answers_queries(tmp_path: Path) -> None:
    async def run() -> tuple[str, str]:
        async with embedded_sink(tmp_path) as sink:
            add(sink, 0, url="https://example.com/", metrics={"m": 2.5})
            add(sink, 1, dimensions={"plan": "pro"})
            assert (await sink.flush()).commit == {(topics.EVENTS, 0): 2}
            table = await sink.pretty_query(
                "SELECT event_id, url, metrics['m'], dimensions['plan'] FROM events "
                "ORDER BY event_id"
            )
            return table, await scalar(sink, "SELECT count() FROM events")

    table, count = asyncio.run(run())
    assert count == "2"
    assert "https://example.com/" in table and "2.5" in table and "pro" in table
    assert table.splitlines()[0].lstrip().startswith("┌─event_id")


def test_the_same_offset_range_written_twice_is_stored_once(tmp_path: Path) -> None:
    async def run() -> list[str]:
        async with embedded_sink(tmp_path) as sink:
            for _ in range(2):  # a batch retried after a crash: same range, same token
                add(sink, 0, metrics={"revenue": 10.0})
                add(sink, 1, metrics={"revenue": 5.0})
                await sink.flush()
            return [
                await scalar(sink, "SELECT count() FROM events"),
                await scalar(sink, "SELECT sum(events) FROM events_daily"),
                await scalar(sink, "SELECT sum(total) FROM metrics_daily WHERE metric = 'revenue'"),
            ]

    assert asyncio.run(run()) == ["2", "2", "15"]


def test_a_row_clickhouse_refuses_is_returned_and_the_rest_lands(tmp_path: Path) -> None:
    async def run() -> tuple[list[int], str]:
        async with embedded_sink(tmp_path) as sink:
            for offset in range(5):
                add(sink, offset)
            add(sink, 5, event_time=datetime(2500, 1, 1, tzinfo=UTC))  # beyond DateTime64(3)
            add(sink, 6)
            result = await sink.flush()
            refused = [row.source.offset for row in result.rejected[(topics.EVENTS, 0)]]
            return refused, await scalar(sink, "SELECT count() FROM events")

    refused, count = asyncio.run(run())
    assert (refused, count) == ([5], "6")


def test_records_that_are_not_events_are_refused_alone(tmp_path: Path) -> None:
    async def run() -> tuple[list[int], str]:
        async with embedded_sink(tmp_path) as sink:
            add(sink, 0)
            for offset, value in ((1, b"not json"), (2, b'{"schema_version": 2, "event_id": "x"}')):
                source = Source(offset, b"k", value)
                sink.add(sink.decode(topics.EVENTS, source), topics.EVENTS, 0, source)
            add(sink, 3)
            result = await sink.flush()
            refused = [row.source.offset for row in result.rejected[(topics.EVENTS, 0)]]
            return refused, await scalar(sink, "SELECT count() FROM events")

    assert asyncio.run(run()) == ([1, 2], "2")


def test_persons_identity_entries_and_bots(tmp_path: Path) -> None:
    later = datetime(2026, 3, 5, tzinfo=UTC)
    entry = Entry(
        project_id="p1", embeddable_id="flow", identifier_key="email",
        identifier_value="a@b.c", entry_id="x", updated_at=NOW,
    )  # fmt: skip

    async def run() -> list[str]:
        async with embedded_sink(tmp_path) as sink:
            add(sink, 0, anonymous_id="anon1", name="pageview")
            add(sink, 1, user_id="u1", anonymous_id="anon1", name="user_identify",
                user_data={"set": {"plan": "free"}, "set_once": {"first": "a"}})  # fmt: skip
            add(sink, 2, user_id="u1", event_time=later,
                user_data={"set": {"plan": "pro"}, "set_once": {"first": "b"}})  # fmt: skip
            add(sink, 0, topic=topics.BOTS, context={"user_agent": "Googlebot"})
            sink.add(EntryChange.decode(entry.kafka_key(), entry.encode(), 0), topics.ENTRIES, 0,
                     Source(0, entry.kafka_key(), entry.encode()))  # fmt: skip
            await sink.flush()
            queries = (
                "SELECT resolved_person_id FROM events_resolved WHERE event_id = 'e0'",
                "SELECT properties['plan'], properties['first'] FROM persons "
                "WHERE person_id = 'u1'",
                "SELECT sum(events) FROM bot_events",
                "SELECT entry_id, deleted FROM entries FINAL",
            )
            return [await scalar(sink, sql) for sql in queries]

    assert asyncio.run(run()) == ["u1", '"pro"\t"a"', "1", "x\tfalse"]


def test_an_anonymous_id_identified_as_two_users_follows_the_link_in_force(
    tmp_path: Path,
) -> None:
    """Before any link: the first user; between the links: the first; after the second: the
    second. An event the processors already resolved keeps their answer."""

    def at(minute: int) -> datetime:
        return datetime(2026, 3, 1, 12, minute, tzinfo=UTC)

    async def run() -> str:
        async with embedded_sink(tmp_path) as sink:
            add(sink, 0, anonymous_id="a1", event_time=at(0))
            add(sink, 1, anonymous_id="a1", user_id="u1", name="identify", event_time=at(1))
            add(sink, 2, anonymous_id="a1", event_time=at(2))
            add(sink, 3, anonymous_id="a1", user_id="u2", name="identify", event_time=at(3))
            add(sink, 4, anonymous_id="a1", event_time=at(4))
            add(sink, 5, anonymous_id="a1", person_id="u9", event_time=at(5))
            await sink.flush()
            return await scalar(
                sink,
                "SELECT groupArray(resolved_person_id) FROM"
                " (SELECT * FROM events_resolved ORDER BY event_time)",
            )

    assert asyncio.run(run()) == "['u1','u1','u1','u2','u2','u9']"


def test_migrations_run_twice_change_nothing_the_second_time(tmp_path: Path) -> None:
    client = connect(ClickHouseSettings(mode="embedded"), tmp_path)
    try:
        assert len(migrate(client)) == len(load_migrations())
        tables = client.query("SHOW TABLES").result_rows
        assert migrate(client) == []
        assert client.query("SHOW TABLES").result_rows == tables
        assert client.query("SELECT count() FROM schema_migrations").result_rows[0][0] == len(
            load_migrations()
        )
    finally:
        client.close()
