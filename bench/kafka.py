"""Kafka for the benchmarks: records produced in whole batches (a load put in place before the
clock starts), and a topic's end offsets polled cheaply (how far the measured process got).

The broker may hold records of earlier runs (or of other users of an external broker), so every
count taken with `EndOffsets` is a delta from end offsets taken before the run.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.producer.message_accumulator import BatchBuilder

from runtime.tasks import Lifecycle
from tests.kafka import topic_partitions

__all__ = ["EndOffsets", "Record", "batch_producer", "send_in_batches"]


class Record(NamedTuple):
    """A record to produce, with the partition its key sends it to."""

    key: bytes
    value: bytes
    partition: int


@asynccontextmanager
async def batch_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer that fills big batches (512 KiB, 20 ms linger), acknowledged by every replica."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def send_in_batches(
    producer: AIOKafkaProducer, topic: str, records: Iterable[Record]
) -> None:
    """Produce every record to `topic` in whole batches (no future per record), in order within
    each partition, and wait for the broker to acknowledge them all."""
    batches: dict[int, BatchBuilder] = {}
    sent = []
    for key, value, partition in records:
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it
            sent.append(await producer.send_batch(batch, topic, partition=partition))
            batches[partition] = batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    for partition, batch in batches.items():
        if batch.record_count():
            sent.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*sent)


class EndOffsets(Lifecycle):
    """A consumer kept open to ask for end offsets (one ListOffsets request per call)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self._parts: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()  # idempotent, as aiokafka's is

    async def of(self, topic: str) -> dict[TopicPartition, int]:
        if topic not in self._parts:
            self._parts[topic] = await topic_partitions(self._bootstrap, topic)
        return dict(await self._consumer.end_offsets(self._parts[topic]))

    async def total(self, topic: str) -> int:
        return sum((await self.of(topic)).values())
