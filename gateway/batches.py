"""A request's records appended to aiokafka's open batches, without a delivery future per record.

`AIOKafkaProducer.send` makes a future per record, resolved with its offset when its batch is
acknowledged: with the coroutines around it, measured at a fifth of a single event's CPU and of a
bulk body's. The gateway needs only to know that every record of a request is acknowledged, and
which partition each went to, which it chose itself. So each record is appended to the open batch
of its partition in the producer's accumulator, as `send` appends it (`MessageAccumulator.
add_message`), and the request waits for each batch it used: a batch's future resolves when the
broker acknowledged all of it (acks=all, idempotent: sequence numbers are given to whole batches
when they are sent), or fails as its records' futures would have. A record that does not fit its
batch, or a producer closing or failed, goes through `send`, which waits for room or raises.

Batches are shared between concurrent requests, as they are with `send`: nobody waits for another
request's batch to be drained, unlike aiokafka's `send_batch` (tried and reverted: it queues one
batch per partition at a time). Waiting on a shared future must never cancel it, so callers
`asyncio.shield` it.

This reaches into aiokafka's accumulator, so its version is pinned (pyproject.toml) and
tests/gateway/test_batches_live.py produces through it to a real broker.
"""

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from gateway.records import OutgoingRecord

__all__ = ["append"]

Delivery = asyncio.Future[Any]


async def append(
    producer: AIOKafkaProducer, records: list[OutgoingRecord]
) -> tuple[list[int], list[Delivery]]:
    """Each record's partition, and the futures to wait for: every batch the records went into
    (each once), and `send`'s future for a record that did not fit."""
    accumulator = producer._message_accumulator
    partitions: list[int] = []
    deliveries: dict[Delivery, None] = {}  # ordered, each once
    topic = None
    for record in records:
        if record.topic != topic:  # usually once: all of a request's records on one topic
            topic = record.topic
            await producer.client._wait_on_metadata(topic)
        key, value = record.key, record.value
        partition = producer._partition(topic, record.partition, key, value, key, value)
        partitions.append(partition)
        batch = None
        if not (accumulator._closed or accumulator._exception):
            batch = _open_batch(accumulator, TopicPartition(topic, partition))
        if batch is not None and _appended(batch, key, value):
            deliveries[batch.future] = None
        else:
            sent = await producer.send(topic, value, key=key, partition=partition)
            deliveries[sent] = None
    return partitions, list(deliveries)


def _appended(batch: Any, key: bytes, value: bytes | None) -> bool:
    """Whether the record fit in the batch (`MessageBatch.append` without its future)."""
    return batch._builder.append(timestamp=None, key=key, value=value, headers=[]) is not None


def _open_batch(accumulator: Any, tp: TopicPartition) -> Any:
    """The batch of `tp` records are appended to now: the newest one queued, or a new one (which
    wakes the sender, as `add_message` does). A batch already drained is no longer queued."""
    queued = accumulator._batches.get(tp)
    if queued:
        return queued[-1]
    return accumulator._append_batch(accumulator.create_builder(), tp)
