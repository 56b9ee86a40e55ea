"""Kafka positions for bench/process.py: a topic's end offsets polled cheaply, and processed
records read back by the raw record they name.

The broker may hold records of earlier runs (or of other users of an external broker), so every
count here is a delta from end offsets taken before the run.
"""

import asyncio
import time
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import topics
from tests.kafka import topic_partitions

__all__ = ["EndOffsets", "output_timestamps"]


class EndOffsets:
    """A consumer kept open to ask for end offsets (one ListOffsets request per call)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self._parts: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> "EndOffsets":
        await self._consumer.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._consumer.stop()

    async def of(self, topic: str) -> dict[TopicPartition, int]:
        if topic not in self._parts:
            self._parts[topic] = await topic_partitions(self._bootstrap, topic)
        return dict(await self._consumer.end_offsets(self._parts[topic]))

    async def total(self, topic: str) -> int:
        return sum((await self.of(topic)).values())


async def output_timestamps(
    bootstrap: str, start: dict[TopicPartition, int], count: int, timeout: float
) -> dict[bytes, int]:
    """Read `count` processed records from `start` on: each one's Kafka timestamp (ms), by its
    `headwater-source` header (`"<raw partition>:<raw offset>"`)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: dict[bytes, int] = {}
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for record in (r for batch in batches.values() for r in batch):
                source = dict(record.headers).get(topics.SOURCE_HEADER)
                if source is not None:
                    found[bytes(source)] = record.timestamp
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return found
