"""The gateway's replica of the entries topic (Embeddables entries), to answer 404 ENTRY_NOT_FOUND
synchronously.

It reads the compacted `headwater.entries` topic from the beginning and keeps only an 8-byte hash
of each live entry's key (64 bytes per entry with Python's set overhead, whatever the identifier's
length), so memory grows with the number of entries, not with their size or with traffic. A
false "found" needs a 64-bit hash collision (about 1 in 10^7 at a million entries) and is caught
downstream, where the processors resolve the full key.

An entry counts only from a record on its key's rule partition (`runtime.partitioning`), where
the processors resolve events: a producer that put it elsewhere gets it moved there by the
processors within milliseconds, and until then the gateway answers 404 ENTRY_NOT_FOUND. So a 200
never names an entry the processors cannot find.

The gateway is not ready until the replica has read up to the end offsets it saw at start. Entries
written through this process's API are applied at once; other processes see them within the
consumer's fetch wait.
"""

import hashlib

from runtime.partitioning import rule_partition
from runtime.replica import Records, TopicFollower
from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle
from schemas import topics

__all__ = ["EntryReplica"]


def _digest(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


class EntryReplica(Lifecycle):
    """Which entry keys exist, following the entries topic in the background."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._keys: set[int] = set()
        self._follower = TopicFollower(
            kafka, topics.ENTRIES, "headwater-gateway-entries", self._apply_records, self._forget
        )

    @property
    def ready(self) -> bool:
        return self._follower.ready

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

    def _forget(self) -> None:
        self._keys.clear()

    def _apply_records(self, records: Records) -> None:
        partitions = self._follower.partitions  # known: the consumer fetched from the topic
        for record in records:
            key = record.key
            if key is not None and record.partition == rule_partition(key, partitions):
                self.apply(key, record.value is not None)
