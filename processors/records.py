"""What the processors keep and send, with faust nowhere in sight: a table (`KeyValues`) and a
record to produce (`Outgoing`); what they read is a `runtime.streams.ConsumedRecord`."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from runtime.streams import Headers

__all__ = ["KeyValues", "Outgoing", "header_pairs"]


class KeyValues(Protocol):
    """A table as the chain's steps use it: a dict in the tests, a `processors.batches.BatchTable`
    in the worker."""

    def get(self, key: bytes, /) -> bytes | None: ...
    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...
    def __delitem__(self, key: bytes, /) -> None: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to send: a processed event, a command for the workflow engine, a dead letter, or
    a record moved to the partition Headwater's rule gives it (`value=None`: a tombstone)."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None  # None: the producer's partitioner chooses
    headers: list[tuple[str, bytes]] | None = None


def header_pairs(headers: Headers) -> list[tuple[str, bytes]]:
    """The headers as (name, value) pairs, whichever way they came."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)
