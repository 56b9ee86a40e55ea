"""The engine's `State` over its faust tables, for the partition of the record being handled.

Writes go through faust (`table[key] = value`), which writes RocksDB and queues the changelog
record the consumer flushes before it commits; reads and scans go to the partition's RocksDB
directly (`runtime.streams.partition_store`), which also serves the ticker and the sender outside
stream iteration, where faust forbids writes but reading is safe.
"""

from collections.abc import Iterator
from typing import Protocol

from faust.types import TableT

from engine.state import State, TableName
from runtime.streams import iterate_from, partition_store

__all__ = ["FaustState", "TimerWatch"]


class TimerWatch(Protocol):
    """Told of the agent's timer writes (the ticker: where to scan, what it need not remember)."""

    def timer_set(self, partition: int, key: bytes) -> None: ...
    def settled(self, key: bytes) -> None: ...


class FaustState(State):
    def __init__(
        self, tables: dict[TableName, TableT[bytes, bytes]], partition: int, watch: TimerWatch
    ) -> None:
        self._tables = tables
        self.partition = partition
        self._watch = watch

    def get(self, table: TableName, key: bytes) -> bytes | None:
        value: bytes | None = partition_store(self._tables[table], self.partition).get(key)
        return value

    def put(self, table: TableName, key: bytes, value: bytes) -> None:
        self._tables[table][key] = value
        if table == "timers":
            self._watch.timer_set(self.partition, key)

    def delete(self, table: TableName, key: bytes) -> None:
        self._tables[table].pop(key, None)
        if table == "timers":
            self._watch.settled(key)

    def scan(self, table: TableName, prefix: bytes) -> Iterator[bytes]:
        db = partition_store(self._tables[table], self.partition)
        for key, _ in iterate_from(db, prefix):
            if not key.startswith(prefix):
                return
            yield key
