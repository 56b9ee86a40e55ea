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
are ignored at once and deleted by `SeenSet.expire`, which the app runs over the stored keys a
slice at a time, so the set on disk holds about one window of events.
"""

import hashlib
import struct
from collections.abc import Iterable, MutableMapping

import orjson

from schemas.event import Event

__all__ = ["LIFETIME_KEY_PREFIX", "SeenSet", "event_identity"]

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
    """The sightings of one worker, in a mapping that faust backs with RocksDB and a changelog."""

    def __init__(self, table: MutableMapping[bytes, bytes], window_ms: int) -> None:
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
        """Delete the sightings among `items` that expired by `now_ms`; return how many."""
        expired = [
            key
            for key, value in items
            if len(value) == _SIGHTING.size
            and (expires_ms := _SIGHTING.unpack(value)[1]) != _NEVER
            and expires_ms <= now_ms
        ]
        for key in expired:
            del self._table[key]
        return len(expired)


def _epoch_ms(event: Event) -> int:
    return int(event.received_at.timestamp() * 1000)
