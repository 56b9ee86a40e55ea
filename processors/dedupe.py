"""Dedupe: drop an event whose identity was already seen inside the window.

An event's identity, in order of precedence:
1. its request's Idempotency-Key, with its event id (the gateway derives the id from the key and
   the element's place in the body, so a retried request repeats both);
2. the source's own id for it (Usermaven `event_id`), per project and format;
3. a fingerprint of the canonical payload, where the format carries the event's own timestamp
   (Embeddables, Usermaven `_timestamp`, direct producers): two identical bodies at the same
   instant are one event sent twice;
4. otherwise its event id, which still drops a record replayed or produced twice.

The seen-set maps a 16-byte digest of the identity to where it was first seen (the raw offset) and
when that sighting expires (its `received_at` plus the window; never for `life-` keys). Keeping
the offset makes processing deterministic on replay: a record read again after a crash finds its
own sighting, is not a duplicate of itself, and produces the same output again.

Expiry is by event time (`received_at`), not the wall clock, for the same reason. Expired sightings
are ignored at once and deleted by `SeenSet.expire`, which the `Sweeper` runs over the stored keys
a slice at a time, so the set on disk holds about one window of events.
"""

import hashlib
import struct
from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

import orjson

from processors.records import KeyValues
from schemas.event import Event

__all__ = ["LIFETIME_KEY_PREFIX", "SeenSet", "StoredSlice", "Sweeper", "event_identity"]

LIFETIME_KEY_PREFIX = "life-"
_NEVER = 0
_SIGHTING = struct.Struct(">qq")  # raw offset, expiry in epoch ms (0: never)
_CANONICAL_FIELDS = {
    "project_id",
    "source_format",
    "name",
    "event_time",
    "user_id",
    "anonymous_id",
    "identifier_key",
    "identifier_value",
    "embeddable_id",
    "url",
    "properties",
    "metrics",
    "dimensions",
    "user_data",
}


def event_identity(event: Event) -> bytes:
    """The digest naming this event for dedupe (see the module docstring for the precedence)."""
    if event.idempotency_key is not None:
        parts = ["key", event.project_id, event.idempotency_key, event.event_id]
    elif event.source_event_id:
        parts = ["source", event.project_id, event.source_format, event.source_event_id]
    elif _carries_own_timestamp(event):
        canonical = event.model_dump(mode="json", include=_CANONICAL_FIELDS)
        if not event.user_data.unset:  # a later field: fingerprints from before it stay the same
            del canonical["user_data"]["unset"]
        parts = ["payload", orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS).decode()]
    else:
        parts = ["id", event.project_id, event.event_id]
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).digest()


def _carries_own_timestamp(event: Event) -> bool:
    return event.source_format in ("embeddables", "direct") or event.is_historical


class SeenSet:
    """The sightings of one worker, in a table on RocksDB with a changelog."""

    def __init__(self, table: KeyValues, window_ms: int) -> None:
        self._table = table
        self._window_ms = window_ms

    def is_duplicate(self, identity: bytes, event: Event, offset: int) -> bool:
        """True if another record carried this identity inside the window."""
        stored = self._table.get(identity)
        if stored is None:
            return False
        first_offset, expires_ms = _SIGHTING.unpack(stored)
        return first_offset != offset and (expires_ms == _NEVER or expires_ms > _epoch_ms(event))

    def remember(self, identity: bytes, event: Event, offset: int) -> None:
        """Record the sighting of an event handed on (a dead-lettered one may come back)."""
        lifetime = (event.idempotency_key or "").startswith(LIFETIME_KEY_PREFIX)
        expires_ms = _NEVER if lifetime else _epoch_ms(event) + self._window_ms
        self._table[identity] = _SIGHTING.pack(offset, expires_ms)

    def expire(self, items: Iterable[tuple[bytes, bytes]], now_ms: int) -> int:
        """Delete the sightings among `items` that expired by `now_ms`; return how many. `items`
        may be older than the table (read from disk while a batch's writes wait), so a key is
        deleted only if its current sighting expired too."""
        expired = [
            key
            for key, value in items
            if _expired(value, now_ms) and _expired(self._table.get(key), now_ms)
        ]
        for key in expired:
            del self._table[key]
        return len(expired)


class StoredSlice(Protocol):
    """Reads the stored sightings of one partition in key order: up to `limit` (key, value)
    pairs from the key `start` on (None: the first key), and the key to start from next time
    (None: the end was reached, the next slice starts over)."""

    def __call__(
        self, partition: int, start: bytes | None, limit: int
    ) -> tuple[list[tuple[bytes, bytes]], bytes | None]: ...


class Sweeper:
    """Deletes expired sightings a slice at a time, walking each partition's stored keys in order
    and wrapping around, so a full pass takes about (sightings held / slice * every) events.

    It runs on an event of the partition it sweeps (`step` after each record), because the table's
    deletions go to the changelog partition of the record being processed. Its clock is the latest
    `received_at` handed on in that partition (`advance`), so a replay sweeps as the first run did.
    """

    def __init__(self, seen: SeenSet, read_slice: StoredSlice, every: int, slice_size: int) -> None:
        self._seen = seen
        self._read_slice = read_slice
        self._every = every
        self._slice = slice_size
        self._count: defaultdict[int, int] = defaultdict(int)
        self._cursor: dict[int, bytes | None] = {}
        self._clock_ms: dict[int, int] = {}  # the latest received_at handed on, per partition

    def advance(self, partition: int, event: Event) -> None:
        """Move the partition's clock to an event handed on (it never goes back)."""
        self._clock_ms[partition] = max(_epoch_ms(event), self._clock_ms.get(partition, 0))

    def step(self, partition: int) -> None:
        """Count one record of the partition; every `every` records, sweep the next slice."""
        self._count[partition] += 1
        if self._count[partition] % self._every or partition not in self._clock_ms:
            return
        start = self._cursor.get(partition)
        items, self._cursor[partition] = self._read_slice(partition, start, self._slice)
        self._seen.expire(items, self._clock_ms[partition])


def _expired(value: bytes | None, now_ms: int) -> bool:
    return (
        value is not None
        and len(value) == _SIGHTING.size
        and (expires_ms := _SIGHTING.unpack(value)[1]) != _NEVER
        and expires_ms <= now_ms
    )


def _epoch_ms(event: Event) -> int:
    return int(event.received_at.timestamp() * 1000)
