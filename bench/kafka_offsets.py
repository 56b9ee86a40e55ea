"""Kafka positions for bench/process.py: a consumer group that starts at the end of a topic,
a topic's end offsets polled cheaply, and processed records read back by the raw record they name.

The broker may hold records of earlier runs (or of other users of an external broker), so every
count here is a delta from end offsets taken before the run.
"""

import asyncio
import time
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas import topics

__all__ = ["EndOffsets", "output_timestamps", "start_group_at_end"]


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit the end of every partition of `topic` for `group`, so a processor app of that id
    reads only what is produced from now on (faust seeks to committed offsets)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    parts = await _partitions(bootstrap, topic)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.commit(dict(await consumer.end_offsets(parts)))
    finally:
        await consumer.stop()


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
            self._parts[topic] = await _partitions(self._bootstrap, topic)
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
