"""The ClickHouse sink on the embedded engine (clickhouse-connect `interface="chdb"`)."""

import asyncio
from pathlib import Path

import pytest

from headwater.settings import ClickHouseSettings
from sinks.clickhouse import ClickHouseSink
from tests.factories import make_event

pytestmark = pytest.mark.integration


async def load_and_query(data_dir: Path) -> tuple[str, str]:
    sink = ClickHouseSink(ClickHouseSettings(mode="embedded"), data_dir, max_rows=10, max_age_s=60)
    await sink.setup()
    try:
        sink.add(
            make_event(event_id="a", url="https://example.com/", metrics={"m": 2.5}), "t", 0, 0
        )
        sink.add(make_event(event_id="b", dimensions={"plan": "pro"}), "t", 0, 1)
        result = await sink.flush()
        assert result.commit == {("t", 0): 2}
        table = await sink.pretty_query(
            "SELECT event_id, url, metrics['m'], dimensions['plan'] FROM events ORDER BY event_id"
        )
        count = await sink.pretty_query("SELECT count() FROM events FORMAT TabSeparated")
        return table, count
    finally:
        await sink.close()


def test_embedded_store_takes_a_batch_and_answers_queries(tmp_path: Path) -> None:
    table, count = asyncio.run(load_and_query(tmp_path))
    assert count == "2\n"
    assert "https://example.com/" in table and "2.5" in table and "pro" in table
    assert table.splitlines()[0].lstrip().startswith("┌─event_id")
    assert (tmp_path / "clickhouse").is_dir()
