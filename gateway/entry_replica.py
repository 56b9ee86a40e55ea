"""The gateway's replica of the entries topic (Embeddables entries), to answer 404 ENTRY_NOT_FOUND
synchronously.

It reads the compacted `headwater.entries` topic from the beginning and keeps only an 8-byte hash
of each live entry's key (64 bytes per entry with Python's set overhead, whatever the identifier's
length), so memory grows with the number of entries, not with their size or with traffic. A
false "found" needs a 64-bit hash collision (about 1 in 10^7 at a million entries) and is caught
downstream, where the processors resolve the full key.

The gateway is not ready until the replica has read up to the end offsets it saw at start. Entries
written through this process's API are applied at once; other processes see them within the
consumer's fetch wait.
"""

import asyncio
import hashlib
import logging
import math

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from runtime.kafka import ensure_topics
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask, Lifecycle
from schemas import topics

__all__ = ["EntryReplica"]

log = logging.getLogger(__name__)

_RETRY_DELAY_S = 1.0
_FETCH_WAIT_MS = 100


def _digest(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


class EntryReplica(Lifecycle):
    """Which entry keys exist, following the entries topic in the background."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._keys: set[int] = set()
        self._caught_up = False
        self._follower = BackgroundTask(self._follow, "entries-replica")

    @property
    def ready(self) -> bool:
        return self._caught_up

    def __len__(self) -> int:
        return len(self._keys)

    def contains(self, key: bytes) -> bool:
        return _digest(key) in self._keys

    def apply(self, key: bytes, present: bool) -> None:
        """Record an entry written or deleted (a tombstone)."""
        if present:
            self._keys.add(_digest(key))
        else:
            self._keys.discard(_digest(key))

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _follow(self) -> None:
        await ensure_topics(self._kafka, timeout=math.inf)
        while True:
            consumer = AIOKafkaConsumer(
                topics.ENTRIES,
                bootstrap_servers=self._kafka.bootstrap_servers,
                group_id=None,  # no group: every partition, from the beginning
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                fetch_max_wait_ms=_FETCH_WAIT_MS,
                client_id="headwater-gateway-entries",
            )
            try:
                await consumer.start()
                await self._read(consumer)
            except KafkaError as exc:
                log.warning("entries replica: kafka error, restarting", extra={"error": repr(exc)})
                await asyncio.sleep(_RETRY_DELAY_S)
            finally:
                await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        self._keys.clear()
        self._caught_up = False
        targets: dict[TopicPartition, int] = {}
        while True:
            batches = await consumer.getmany(timeout_ms=_FETCH_WAIT_MS * 5)
            for records in batches.values():
                self._apply_records(records)
            if self._caught_up or not consumer.assignment():
                continue
            if not targets:  # the end offsets when we started reading: caught up once there
                targets = await consumer.end_offsets(list(consumer.assignment()))
            positions = {tp: await consumer.position(tp) for tp in targets}
            self._caught_up = all(positions[tp] >= end for tp, end in targets.items())

    def _apply_records(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            if record.key is not None:
                self.apply(record.key, record.value is not None)
