"""Records faust did not hand to an agent, read straight from Kafka.

faust-streaming 0.15.3 can skip records when a rebalance interrupts delivery: its fetcher waits
for either the stream to take a record or the flow to be suspended, and advances its read offset
either way (`Consumer._drain_messages`); the next record then looks like a gap in the offsets,
which it treats as acknowledged and commits past. Measured here before this module: 5 of 18,000
events lost when one of two processors workers left its group mid-stream, and one workflow
command in 1,000 never started its execution when a SIGKILLed engine came back (its return and
the dead member's expiry are two rebalances).

The workflow engine's agent reads its commands and signals through faust's streams (the
processors' raw records no longer do: `runtime/faust_bulk.py`). Those topics have contiguous
offsets (their producers do not use transactions), so the agent checks them. From the group's
committed offset on, per topic partition and consumer generation, every offset must arrive in
turn: a record below the next expected offset was already processed in this generation and is
skipped; a record beyond it is preceded by the missing ones, read here, so a partition's records
are still handled in offset order (the engine relies on it for a person's commands). The agent
acknowledges the records read here once it has applied them (`runtime.streams.acknowledge`):
faust does not always count the offsets it skipped as a gap, and then holds the partition's
commit before them for good (before they were acknowledged, in one CI run and one of four runs
of the engine's live tests, a restarted engine's commands stayed committed at the first skipped
offset, 116 to 416 records behind).

Its Kafka clients open in `start()` and close in an idempotent `stop()`; the workers have faust
start it before the agents and stop it after them.
"""

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle

__all__ = ["OffsetGaps"]

log = logging.getLogger(__name__)

_FETCH_TIMEOUT_MS = 1_000


class OffsetGaps(Lifecycle):
    """Tracks the next offset of each topic partition a group's agents read, and reads any they
    were not given."""

    def __init__(self, kafka: KafkaSettings, group_id: str) -> None:
        self._kafka = kafka
        self._group_id = group_id
        self._generation = -1
        self._next: dict[TopicPartition, int] = {}
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._kafka.bootstrap_servers)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self._group_id}-gaps",
        )
        await self._consumer.start()

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        admin, self._admin = self._admin, None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()

    async def missed(
        self, topic: str, partition: int, offset: int, generation: int
    ) -> list[ConsumerRecord[bytes, bytes]] | None:
        """The records of `topic` to process before this one (usually none), or None if this one
        was already processed in this generation."""
        if generation != self._generation:
            self._generation, self._next = generation, {}
        tp = TopicPartition(topic, partition)
        expected = self._next.get(tp)
        if expected is None:
            expected = await self._committed(tp, offset)
        if offset < expected:
            return None
        self._next[tp] = offset + 1
        if offset == expected:
            return []
        return await self._read(tp, expected, offset)

    async def _committed(self, tp: TopicPartition, offset: int) -> int:
        assert self._admin is not None, "started before the agents"
        committed = await self._admin.list_consumer_group_offsets(self._group_id, partitions=[tp])
        meta = committed.get(tp)
        return meta.offset if meta is not None and meta.offset >= 0 else offset

    async def _read(
        self, tp: TopicPartition, start: int, end: int
    ) -> list[ConsumerRecord[bytes, bytes]]:
        assert self._consumer is not None, "started before the agents"
        log.warning(
            "reading records faust skipped",
            extra={"topic": tp.topic, "partition": tp.partition, "from": start, "to": end},
        )
        self._consumer.assign([tp])
        self._consumer.seek(tp, start)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while await self._consumer.position(tp) < end:
            batch = await self._consumer.getmany(tp, timeout_ms=_FETCH_TIMEOUT_MS)
            records.extend(r for r in batch.get(tp, []) if r.offset < end)
        return records
