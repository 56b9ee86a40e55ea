"""The sink's ClickHouse client: every call on its one worker thread, off the event loop, and
nothing before `start()` or after `stop()`."""

import asyncio
import threading
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from runtime.settings import ClickHouseSettings
from sinks.clickhouse.client import ClientThread, connect, require_engine
from sinks.errors import SinkWriteFailed
from tests.sinks.clickhouse.stores import embedded

pytestmark = pytest.mark.integration


def thread_name(_: Client) -> str:
    return threading.current_thread().name


def test_calls_run_on_one_thread_between_start_and_stop(tmp_path: Path) -> None:
    async def run() -> None:
        clickhouse = ClientThread(embedded(), tmp_path)
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
