"""The sink's ClickHouse clients: the embedded engine's calls on one worker thread, a server's
several at once, all off the event loop, and nothing before `start()` or after `stop()`."""

import asyncio
import threading
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from runtime.settings import ClickHouseSettings
from sinks.clickhouse.client import ClientPool, connect, require_engine
from sinks.errors import SinkWriteFailed
from tests.sinks.clickhouse.stores import embedded

pytestmark = pytest.mark.integration


def thread_name(_: Client) -> str:
    return threading.current_thread().name


def test_the_embedded_engine_is_called_on_one_thread_between_start_and_stop(tmp_path: Path) -> None:
    async def run() -> None:
        clickhouse = ClientPool(embedded(), tmp_path, size=4)
        with pytest.raises(SinkWriteFailed, match="not started"):
            await clickhouse.call(thread_name)
        async with clickhouse:
            names = await asyncio.gather(*(clickhouse.call(thread_name) for _ in range(4)))
            assert len(set(names)) == 1 and names[0].startswith("clickhouse")
            assert names[0] != threading.current_thread().name
        await clickhouse.stop()  # a second stop does nothing
        with pytest.raises(SinkWriteFailed, match="not started"):
            await clickhouse.call(thread_name)

    asyncio.run(run())


def test_the_embedded_store_lives_in_the_data_folder(tmp_path: Path) -> None:
    require_engine()  # installed with the test extras
    client = connect(embedded(), tmp_path)
    try:
        client.command("CREATE TABLE kept (n UInt8) ENGINE = MergeTree ORDER BY n")
    finally:
        client.close()
    assert (tmp_path / "clickhouse").is_dir()


def test_a_server_is_reached_at_its_url_and_database(clickhouse_url: str) -> None:
    client = connect(ClickHouseSettings(url=clickhouse_url, database="system"), Path("."))
    try:
        assert client.query("SELECT currentDatabase()").result_rows == [("system",)]
    finally:
        client.close()


def running_queries(client: Client, marker: str) -> int:
    """How many queries with `marker` in their text the server is running now (not this one)."""
    sql = (
        "SELECT count() FROM system.processes "
        "WHERE position(query, {marker:String}) > 0 AND query_id != queryID()"
    )
    return int(client.query(sql, parameters={"marker": marker}).result_rows[0][0])


def test_a_server_is_called_by_several_clients_at_once(clickhouse_url: str) -> None:
    settings = ClickHouseSettings(url=clickhouse_url, database="system")
    marker = "slow call of test_client"

    async def run() -> None:
        async with ClientPool(settings, Path("."), size=2) as clickhouse:
            slow = asyncio.create_task(
                clickhouse.call(lambda c: c.command(f"SELECT sleep(2) /* {marker} */"))
            )
            seen = 0
            for _ in range(40):  # up to 2 s for the slow call to start
                seen = await clickhouse.call(running_queries, marker)
                if seen:
                    break
                await asyncio.sleep(0.05)
            await slow
            assert seen == 1  # the second client ran while the first waited on the server

    asyncio.run(run())
