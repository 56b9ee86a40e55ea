"""Records of chosen topics taken from faust's consumer a fetch at a time, not a record at a time.

faust hands every fetched record to its agents one by one: a `Message`, a delivery through
mode's `wait_first` (four tasks), the conductor's decode and queue put, the stream's iteration
and ack. For the processors' raw topic that path cost more than everything the chain does
(docs/performance.md, "Processors: records in bulk"). faust still does what it is kept for: the
group, the assignment (an agent subscribes the topic, so tables stay co-partitioned with it),
table recovery, standbys, commits. `BulkConsumer` takes the chosen topics' records out of each
fetch (`Consumer._wait_next_records`, before they become messages) and queues them per
partition with the consumer generation they were fetched in; the worker's own task takes them
in batches (`BulkRecords.batch`) and acknowledges what it has handled into faust's commit
bookkeeping (`runtime.streams.acknowledge`), as a stream's acks do.

Rebalances keep faust's guarantees: while a batch is being handled it holds a place among
faust's unacknowledged messages (`BulkRecords.handling`), so a revocation waits for it and
commits its acks, as it waits for an agent's current event; records fetched in an earlier
generation are dropped (faust seeks every assigned partition to its committed offset after a
rebalance, so they are fetched again by whoever owns them now).
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.utils.futures import notify

__all__ = ["BulkRecords", "Chunk", "bulk_records"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One partition's records of one fetch (aiokafka `ConsumerRecord`s, in offset order)."""

    generation: int
    tp: TP
    records: list[Any]


class _Handling:
    """A batch being handled, among faust's unacknowledged messages (which it weakly holds)."""

    acked = False
    refcount = 1  # faust's wait_empty logs (refcount, message) pairs of what it waits for


class BulkRecords:
    """The queue between `BulkConsumer` and the task that handles the records."""

    def __init__(self, app: faust.App, topics: frozenset[str]) -> None:
        self._app, self.topics = app, topics
        self._chunks: asyncio.Queue[Chunk] = asyncio.Queue()

    def take(self, records: Any) -> None:
        """Move the chosen topics' partitions out of one fetch's records (faust's `RecordMap`,
        a dict of partition to records)."""
        generation = self._app.consumer_generation_id
        for tp in [tp for tp in records if tp.topic in self.topics]:
            self._chunks.put_nowait(Chunk(generation, tp, records.pop(tp)))

    async def batch(self, max_records: int) -> list[Chunk]:
        """The next chunks of the current generation, at least one record, at most about
        `max_records` (whole chunks); older chunks are dropped."""
        chunks: list[Chunk] = []
        size = 0
        while not chunks or (size < max_records and not self._chunks.empty()):
            chunk = await self._chunks.get() if not chunks else self._chunks.get_nowait()
            if chunk.generation == self._app.consumer_generation_id:
                chunks.append(chunk)
                size += len(chunk.records)
        return chunks

    @contextmanager
    def handling(self) -> Iterator[None]:
        """While the block runs, a rebalance's revocation waits for it (and then commits)."""
        consumer: Any = self._app.consumer
        marker = _Handling()
        consumer._unacked_messages.add(marker)
        try:
            yield
        finally:
            marker.acked = True
            consumer._unacked_messages.discard(marker)
            notify(consumer._waiting_for_ack)


class BulkConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, handing the chosen topics' fetched records to `bulk`."""

    bulk: BulkRecords | None = None

    async def _wait_next_records(self, timeout: float) -> Any:
        records, active_partitions = await super()._wait_next_records(timeout)
        if records and self.bulk is not None:
            self.bulk.take(records)
        return records, active_partitions


class _Transport(faust_aiokafka.Transport):
    Consumer = BulkConsumer
    bulk: BulkRecords | None = None

    def create_consumer(self, callback: Any, **kwargs: Any) -> Any:
        consumer: Any = super().create_consumer(callback, **kwargs)
        consumer.bulk = self.bulk
        return consumer


def bulk_records(app: faust.App, topics: frozenset[str]) -> BulkRecords:
    """Make `app` hand `topics`' records to the returned queue (before its consumer exists)."""
    bulk = BulkRecords(app, topics)
    transport = _Transport(app.conf.broker_consumer, app)
    transport.bulk = bulk
    app.transport = transport
    return bulk
