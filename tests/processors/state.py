"""Stand-ins for the worker's state in the processors' unit tests: dicts for faust's tables, and a
slice reader over a dict that walks it as the worker's reader walks RocksDB (in key order)."""

from processors.dedupe import StoredSlice

__all__ = ["dict_slice"]


def dict_slice(table: dict[bytes, bytes]) -> StoredSlice:
    """Reads `table` (one partition's worth) in key order, as `Sweeper` expects."""

    def read(
        partition: int, start: bytes | None, limit: int
    ) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        keys = sorted(key for key in table if start is None or key >= start)
        following = keys[limit] if len(keys) > limit else None
        return [(key, table[key]) for key in keys[:limit]], following

    return read
