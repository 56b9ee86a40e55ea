"""The ClickHouse sink on the embedded engine (clickhouse-connect `interface="chdb"`): the same
code as against a server, so schema, deduplication tokens and refused rows are checked here fast;
person properties on both; the HTTP server's faults are in tests/sinks/test_consumer.py."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from headwater.sql import output_format
from runtime.settings import ClickHouseSettings
from schemas import topics
from schemas.entry import Entry
from schemas.event import encode
from sinks.base import Source
from sinks.clickhouse.rows import EntryChange
from sinks.clickhouse.sink import ClickHouseSink
from tests.factories import NOW, make_event
from tests.sinks.clickhouse.stores import embedded, fresh_database

pytestmark = pytest.mark.integration


def sink_on(settings: ClickHouseSettings, data_dir: Path) -> ClickHouseSink:
    """A sink of small batches; `async with` starts it (applying the migrations) and stops it."""
    return ClickHouseSink(settings, data_dir, max_rows=10, max_age_s=60)


def add(sink: ClickHouseSink, offset: int, topic: str = topics.EVENTS, **fields: object) -> None:
    source = Source(offset, b"k", encode(make_event(event_id=f"e{offset}", **fields)))
    sink.add(sink.decode(topic, source), topic, 0, source)


async def scalar(sink: ClickHouseSink, sql: str) -> str:
    return (await sink.query(f"{sql} FORMAT TabSeparated")).strip()


def test_a_batch_lands_and_answers_queries(tmp_path: Path) -> None:
    async def run() -> tuple[str, str]:
        async with sink_on(embedded(), tmp_path) as sink:
            add(sink, 0, url="https://example.com/", metrics={"m": 2.5})
            add(sink, 1, dimensions={"plan": "pro"})
            assert (await sink.flush()).commit == {(topics.EVENTS, 0): 2}
            sql = (
                "SELECT event_id, url, metrics['m'], dimensions['plan'] FROM events "
                "ORDER BY event_id"
            )
            table = await sink.query(sql, output_format(sql))  # as `headwater sql` shows it
            return table, await scalar(sink, "SELECT count() FROM events")

    table, count = asyncio.run(run())
    assert count == "2"
    assert "https://example.com/" in table and "2.5" in table and "pro" in table
    assert table.splitlines()[0].lstrip().startswith("┌─event_id")


def test_a_flush_commits_a_partition_of_skipped_records_beside_one_that_is_written(
    tmp_path: Path,
) -> None:
    async def run() -> dict[tuple[str, int], int]:
        async with sink_on(embedded(), tmp_path) as sink:
            add(sink, 4)
            sink.skip(topics.EVENTS, 1, 7)  # e.g. a repeat: no row, still committed
            return (await sink.flush()).commit

    assert asyncio.run(run()) == {(topics.EVENTS, 0): 5, (topics.EVENTS, 1): 8}


def test_the_same_offset_range_written_twice_is_stored_once(tmp_path: Path) -> None:
    async def run() -> list[str]:
        async with sink_on(embedded(), tmp_path) as sink:
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
        async with sink_on(embedded(), tmp_path) as sink:
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
        async with sink_on(embedded(), tmp_path) as sink:
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
        async with sink_on(embedded(), tmp_path) as sink:
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
        async with sink_on(embedded(), tmp_path) as sink:
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


# Person properties in `persons` with removals (`user_data.unset`, migration 0006), on the
# ClickHouse server and on the embedded engine: each key takes its latest `set` or `unset` in
# event time, whatever order the events arrive in, and merges change nothing.

Step = tuple[int, dict[str, Any], dict[str, Any]]  # event minute, user_data, properties after it

# One person each; steps in arrival order.
SCENARIOS: dict[str, list[Step]] = {
    "set, unset, set again": [
        (1, {"set": {"plan": "free", "name": "Ada"}}, {"plan": "free", "name": "Ada"}),
        (2, {"unset": ["plan"]}, {"name": "Ada"}),
        (3, {"set": {"plan": "pro"}}, {"plan": "pro", "name": "Ada"}),
    ],
    "an unset that happened earlier arrives after a later set": [
        (3, {"set": {"plan": "pro"}}, {"plan": "pro"}),
        (2, {"unset": ["plan"]}, {"plan": "pro"}),
        (4, {"unset": ["plan"]}, {}),
        (1, {"set": {"plan": "free"}}, {}),
    ],
    "set_once and unset": [
        (2, {"set_once": {"first": "a"}}, {"first": "a"}),
        (1, {"unset": ["first"]}, {"first": "a"}),
        (3, {"unset": ["first"]}, {}),
        (4, {"set_once": {"first": "b"}}, {}),  # only the earliest set_once is kept
        (5, {"set": {"first": "c"}}, {"first": "c"}),
    ],
    "set and unset at the same time": [
        (1, {"set": {"plan": "free"}, "unset": ["plan"]}, {}),
    ],
}


@pytest.fixture(params=["server", "embedded"])
def settings(request: pytest.FixtureRequest) -> ClickHouseSettings:
    if request.param == "embedded":
        return embedded()
    url: str = request.getfixturevalue("clickhouse_url")
    return ClickHouseSettings(url=url, database=fresh_database(url))


async def arrive(sink: ClickHouseSink, offset: int, person: str, step: Step) -> None:
    minute, user_data, _ = step
    event = make_event(
        event_id=f"e{offset}",
        user_id=person,
        event_time=datetime(2026, 3, 1, 12, minute, tzinfo=UTC),
        user_data=user_data,
    )
    source = Source(offset, b"k", encode(event))
    sink.add(sink.decode(topics.EVENTS, source), topics.EVENTS, 0, source)
    await sink.flush()


async def properties(sink: ClickHouseSink, person: str) -> dict[str, Any]:
    [line] = (
        await sink.query(
            f"SELECT properties FROM persons WHERE person_id = '{person}' FORMAT JSONEachRow"
        )
    ).splitlines()
    return {key: orjson.loads(value) for key, value in orjson.loads(line)["properties"].items()}


def test_each_key_takes_its_latest_set_or_unset_in_event_time(
    settings: ClickHouseSettings, tmp_path: Path
) -> None:
    async def run() -> None:
        async with sink_on(settings, tmp_path) as sink:
            offset = 0
            for n, (scenario, steps) in enumerate(SCENARIOS.items()):
                for step in steps:
                    await arrive(sink, offset, f"u{n}", step)
                    offset += 1
                    assert await properties(sink, f"u{n}") == step[2], (scenario, step)
            for table in ("person_properties", "person_property_unsets"):
                await sink.query(f"OPTIMIZE TABLE {table} FINAL")
            after_merges = [await properties(sink, f"u{n}") for n in range(len(SCENARIOS))]
            assert after_merges == [steps[-1][2] for steps in SCENARIOS.values()]

    asyncio.run(run())
