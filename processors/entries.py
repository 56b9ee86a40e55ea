"""Embeddables identifier lookup: an event resolves to the entry of (project, embeddable, key,
value), or it is an ENTRY_NOT_FOUND dead letter.

The gateway already answers 404 for unknown entries, so a miss here comes from a record produced
to Kafka directly, an entry deleted in between, or a 64-bit hash collision in the gateway's
replica. The entries are a faust table fed from the compacted `headwater.entries` topic; an entry
record and the events naming it have the same Kafka key, so they are on the same partition number
and the same worker.
"""

from collections.abc import MutableMapping

from schemas.entry import Entry

__all__ = ["EntryIndex"]


class EntryIndex:
    """The live entries, by their Kafka key; tombstones delete."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Apply one record of the entries topic (`None` is a tombstone)."""
        if value is None:
            self._table.pop(key, None)
        else:
            self._table[key] = value

    def find(self, key: bytes) -> Entry | None:
        """The entry of this key (`Event.names_entry()`), if it exists."""
        stored = self._table.get(key)
        return None if stored is None else Entry.model_validate_json(stored)
