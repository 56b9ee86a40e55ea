"""The state of a batch of raw records: table writes kept until the batch is done, then written to
each partition's RocksDB in one write batch and sent to its changelog with the batch's outputs.

faust's `table[key] = value` writes RocksDB and queues a changelog record through its producer
buffer for every key, with a callback per record recording the changelog offset: about 106 µs a
key here (docs/performance.md, "Processors performance"). It also finds the partition from the
stream's current event, which a batch of several partitions' records does not have. So the chain
reads and writes the `seen` and `links` tables through `BatchTable`s: the partition is the one
the worker names (`Cursor`), reads see the batch's own writes first and then the partition's
RocksDB, and `Batch.close` writes them and returns their changelog records, which are the ones
faust sends (the changelog topic's partition of the table's partition, the same key and value
bytes), so faust's recovery and standbys restore them as they restore its own. Once a partition's
changelog records are acknowledged, `Batch.persisted` records the last offset in its RocksDB as
faust's `_on_changelog_sent` does, so a restart reads only the changelog written after it.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from faust.types import TP, TableT
from rocksdict import WriteBatch

from processors.records import Outgoing
from runtime.streams import partition_store, rocksdb_store

__all__ = ["Batch", "BatchTable", "Cursor"]


@dataclass(slots=True)
class Cursor:
    """The partition of the raw record being processed, which the worker sets before each one."""

    partition: int = 0


@dataclass(slots=True)
class BatchTable:
    """One faust table read and written a batch at a time, at the cursor's partition."""

    table: TableT[bytes, bytes]
    changelog: str
    cursor: Cursor
    # partition -> key -> value written in this batch (None: deleted)
    _writes: defaultdict[int, dict[bytes, bytes | None]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def get(self, key: bytes, /) -> bytes | None:
        partition = self.cursor.partition
        writes = self._writes.get(partition)
        if writes is not None and key in writes:
            return writes[key]
        value: bytes | None = partition_store(self.table, partition).get(key)
        return value

    def __setitem__(self, key: bytes, value: bytes, /) -> None:
        self._writes[self.cursor.partition][key] = value

    def __delitem__(self, key: bytes, /) -> None:
        self._writes[self.cursor.partition][key] = None

    def close(self) -> list[Outgoing]:
        """Write the batch's keys to RocksDB, one write batch a partition, and return their
        changelog records (None: a tombstone, as faust sends for a deleted key)."""
        changes = []
        for partition, writes in self._writes.items():
            batch = WriteBatch(raw_mode=True)
            for key, value in writes.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
                changes.append(Outgoing(self.changelog, key, value, partition))
            partition_store(self.table, partition).write(batch)
        self._writes.clear()
        return changes

    def discard(self) -> None:
        """Forget the batch's writes (a rebalance dropped the batch)."""
        self._writes.clear()

    def persisted(self, partition: int, offset: int) -> None:
        """The changelog is in Kafka up to `offset`: recovery starts after it."""
        rocksdb_store(self.table).set_persisted_offset(TP(self.changelog, partition), offset)


class Batch:
    """The tables a batch of raw records writes, closed together."""

    def __init__(self, tables: Iterable[BatchTable]) -> None:
        self._tables = {table.changelog: table for table in tables}

    def close(self) -> list[Outgoing]:
        """Every table's writes in RocksDB, and their changelog records to send."""
        return [change for table in self._tables.values() for change in table.close()]

    def discard(self) -> None:
        """Forget every table's writes of the batch."""
        for table in self._tables.values():
            table.discard()

    def acknowledged(self, changes: list[Outgoing], offsets: list[int]) -> None:
        """`close`'s changelog records are in Kafka at `offsets`: each changelog partition's
        last one is where its recovery starts next time."""
        pairs = zip(changes, offsets, strict=True)
        last = {(change.topic, change.partition): offset for change, offset in pairs}
        for (topic, partition), offset in last.items():
            assert partition is not None, "a changelog record names its partition"
            self._tables[topic].persisted(partition, offset)
