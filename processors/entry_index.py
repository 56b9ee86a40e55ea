"""The entry index: Embeddables identifier lookup. An event resolves to the entry of (project,
embeddable, key, value), or it is an ENTRY_NOT_FOUND dead letter.

The gateway already answers 404 for unknown entries, so a miss here comes from a record produced
to Kafka directly, an entry deleted in between, or a 64-bit hash collision in the gateway's
replica. The entries are a faust table fed from the compacted `headwater.entries` topic; an entry
and the events naming it have the same Kafka key, so on their rule partitions (`processors.place`
moves records a producer put elsewhere) they are on the same partition number and the same worker.

The index also remembers how far it has read each partition of the entries topic, and which
entries it sent on to their rule partition and has not applied yet, so an event whose entry is
missing can wait for what this worker has not read or applied yet (`settled`).
"""

from collections.abc import Mapping, MutableMapping

from schemas.entry import Entry

__all__ = ["EntryIndex"]

_IN_FLIGHT_MAX = 10_000  # copies whose rule partition another worker owns are never applied here


class EntryIndex:
    """The live entries, by their Kafka key (tombstones delete), the offset read up to, and the
    copies on their way."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table
        self._applied: dict[int, int] = {}  # entries partition -> last offset read
        self._in_flight: dict[bytes, None] = {}  # keys sent on, oldest first

    def apply(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of the entries topic: a `None` value is a tombstone; a record
        without a key names no entry and only moves the offset on."""
        if key is not None:
            if value is None:
                self._table.pop(key, None)
            else:
                self._table[key] = value
            self._in_flight.pop(key, None)
        self._applied[partition] = offset

    def moved(self, partition: int, offset: int, key: bytes) -> None:
        """A record read here whose copy went to the rule partition of `key`: the offset is read,
        and the entry is on its way."""
        self._applied[partition] = offset
        self._in_flight[key] = None
        if len(self._in_flight) > _IN_FLIGHT_MAX:
            del self._in_flight[next(iter(self._in_flight))]

    def behind(self, partition: int, end_offset: int | None) -> bool:
        """True while the partition has records before `end_offset` (its high watermark as the
        consumer last saw it; None when unknown) that are not read yet."""
        return end_offset is not None and self._applied.get(partition, -1) + 1 < end_offset

    def settled(self, key: bytes, ends: Mapping[int, int | None]) -> bool:
        """True once this worker can bring no more news of `key`: every entries partition it
        holds (`ends`: partition -> high watermark) is read, and no copy of `key` it sent is on
        its way."""
        return key not in self._in_flight and not any(
            self.behind(partition, end) for partition, end in ends.items()
        )

    def find(self, key: bytes) -> Entry | None:
        """The entry of this key (`Event.names_entry()`), if it exists."""
        stored = self._table.get(key)
        return None if stored is None else Entry.model_validate_json(stored)
