"""A sink running in the test's process against the real broker and ClickHouse server, for the
workflow tests (`test_workflows_live.py`, `test_executions_live.py`).

Each test has its own consumer group (committed at the end of every sink topic before it
produces, so the sink writes only what the test sends) and database. The last record a test
produces is a marker: once its row is there, everything before it on that partition was handled.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaProducer

from runtime.kafka import ensure_topics
from runtime.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse.sink import ClickHouseSink
from sinks.consumer import SINK_TOPICS, SinkConsumer
from sinks.metrics import SinkMetrics
from sinks.settings import SinkSettings
from tests.kafka import commit_group_at_end
from tests.sinks.clickhouse.stores import fresh_database

__all__ = ["Record", "Sink", "eventually", "produce", "rows"]

Record = tuple[str, bytes, bytes]  # topic, key, value


class Sink:
    """What a test needs of a running sink: its group, and queries on its database."""

    def __init__(self, bootstrap: str, url: str, data_dir: Path) -> None:
        self.kafka = KafkaSettings(bootstrap=bootstrap)
        self.clickhouse = ClickHouseSettings(url=url, database=fresh_database(url))
        self.settings = SinkSettings(
            group_id=f"sink-workflows-{uuid.uuid4().hex[:8]}", batch_max_age_ms=100
        )
        self.data_dir = data_dir

    async def start_group_at_end(self) -> None:
        await ensure_topics(self.kafka)
        group = self.settings.group_id
        await commit_group_at_end(self.kafka.bootstrap_servers, group, *SINK_TOPICS)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ClickHouseSink]:
        """The sink's store and consumer, in process; stopping commits what was written."""
        async with ClickHouseSink(self.clickhouse, self.data_dir, 1000, 0.1) as store:
            consumer = SinkConsumer(store, self.kafka, self.settings, SinkMetrics())
            async with consumer:
                yield store


async def produce(bootstrap: str, *records: Record) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def rows(store: ClickHouseSink, sql: str) -> list[str]:
    return (await store.query(f"{sql} FORMAT TabSeparated")).splitlines()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)
    assert await check(), what
