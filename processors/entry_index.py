"""The entry index: Embeddables identifier lookup. An event resolves to the entry of (project,
embeddable, key, value), or it is an ENTRY_NOT_FOUND dead letter.

The gateway already answers 404 for unknown entries, so a miss here comes from a record produced
to Kafka directly, an entry deleted in between, or a 64-bit hash collision in the gateway's
replica. The entries are a faust table fed from the compacted `headwater.entries` topic; an entry
record and the events naming it have the same Kafka key, so they are on the same partition number
and the same worker.

The index also remembers how far it has read each partition of the entries topic, so an event
whose entry is missing can wait for the entries this worker has not read yet (`behind`).
"""

from collections.abc import MutableMapping

from schemas.entry import Entry

__all__ = ["EntryIndex"]


class EntryIndex:
    """The live entries, by their Kafka key (tombstones delete), and the offset read up to."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table
        self._applied: dict[int, int] = {}  # entries partition -> last offset applied

    def apply(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of the entries topic: a `None` value is a tombstone; a record
        without a key names no entry and only moves the offset on."""
        if key is not None:
            if value is None:
                self._table.pop(key, None)
            else:
                self._table[key] = value
        self._applied[partition] = offset

    def behind(self, partition: int, end_offset: int | None) -> bool:
        """True while the partition has records before `end_offset` (its high watermark as the
        consumer last saw it; None when unknown) that are not applied yet."""
        return end_offset is not None and self._applied.get(partition, -1) + 1 < end_offset

    def find(self, key: bytes) -> Entry | None:
        """The entry of this key (`Event.names_entry()`), if it exists."""
        stored = self._table.get(key)
        return None if stored is None else Entry.model_validate_json(stored)
