"""Person properties in `persons` with removals (`user_data.unset`, migration 0006), through the
sink, on the ClickHouse server and on the embedded engine: each key takes its latest `set` or
`unset` in event time, whatever order the events arrive in, and merges change nothing."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.settings import ClickHouseSettings
from schemas import topics
from schemas.event import encode
from sinks.base import Source
from sinks.clickhouse import ClickHouseSink
from tests.factories import make_event
from tests.sinks.test_clickhouse_faults import fresh_database

pytestmark = pytest.mark.integration

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
        return ClickHouseSettings(mode="embedded")
    url: str = request.getfixturevalue("clickhouse_url")
    return ClickHouseSettings(url=url, database=fresh_database(url))


@asynccontextmanager
async def running_sink(
    settings: ClickHouseSettings, data_dir: Path
) -> AsyncIterator[ClickHouseSink]:
    sink = ClickHouseSink(settings, data_dir, max_rows=10, max_age_s=60)
    await sink.setup()
    try:
        yield sink
    finally:
        await sink.close()


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
        await sink.pretty_query(
            f"SELECT properties FROM persons WHERE person_id = '{person}' FORMAT JSONEachRow"
        )
    ).splitlines()
    return {key: orjson.loads(value) for key, value in orjson.loads(line)["properties"].items()}


def test_each_key_takes_its_latest_set_or_unset_in_event_time(
    settings: ClickHouseSettings, tmp_path: Path
) -> None:
    async def run() -> None:
        async with running_sink(settings, tmp_path) as sink:
            offset = 0
            for n, (scenario, steps) in enumerate(SCENARIOS.items()):
                for step in steps:
                    await arrive(sink, offset, f"u{n}", step)
                    offset += 1
                    assert await properties(sink, f"u{n}") == step[2], (scenario, step)
            for table in ("person_properties", "person_property_unsets"):
                await sink.pretty_query(f"OPTIMIZE TABLE {table} FINAL")
            after_merges = [await properties(sink, f"u{n}") for n in range(len(SCENARIOS))]
            assert after_merges == [steps[-1][2] for steps in SCENARIOS.values()]

    asyncio.run(run())
