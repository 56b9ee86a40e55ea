"""The engine's `State` over its faust tables, for the partition of the record being handled.

Writes go through faust (`table[key] = value`), which writes RocksDB and queues the changelog
record the consumer flushes before it commits; reads and scans go to the partition's RocksDB
directly (`runtime.streams.partition_store`), which also serves the ticker and the sender outside
stream iteration, where faust forbids writes but reading is safe.
"""

from collections.abc import Iterator

from faust.types import TableT

from engine.state import State, TableName
from runtime.streams import iterate_from, partition_store

__all__ = ["FaustState"]


class FaustState(State):
    def __init__(self, tables: dict[TableName, TableT[bytes, bytes]], partition: int) -> None:
        self._tables = tables
        self.partition = partition

    def get(self, table: TableName, key: bytes) -> bytes | None:
        value: bytes | None = partition_store(self._tables[table], self.partition).get(key)
        return value

    def put(self, table: TableName, key: bytes, value: bytes) -> None:
        self._tables[table][key] = value

    def delete(self, table: TableName, key: bytes) -> None:
        self._tables[table].pop(key, None)

    def scan(self, table: TableName, prefix: bytes) -> Iterator[bytes]:
        db = partition_store(self._tables[table], self.partition)
        for key, _ in iterate_from(db, prefix):
            if not key.startswith(prefix):
                return
            yield key
