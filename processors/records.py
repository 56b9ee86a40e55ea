"""What the processors read, keep and send, with faust nowhere in sight: a record of a topic they
consume (`RawRecord`), a table (`KeyValues`) and a record to produce (`Outgoing`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Headers", "KeyValues", "Outgoing", "RawRecord", "header_pairs"]

# Kafka headers as faust and aiokafka hand them over: (name, value) pairs, or a mapping.
Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


class RawRecord(Protocol):
    """A record as the processors read it: a faust `Message`, or an aiokafka `ConsumerRecord`
    read by `runtime.gaps.OffsetGaps`. Read-only properties, so both match."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers: ...


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
