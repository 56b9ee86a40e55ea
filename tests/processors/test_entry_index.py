"""The entry index: entries applied from their topic, found by key, and how far it has read."""

from processors.entry_index import EntryIndex
from schemas.entry import Entry
from tests.factories import NOW

ENTRY = Entry(
    project_id="p1", embeddable_id="flow", identifier_key="email",
    identifier_value="ann@example.com", entry_id="entry-ann", updated_at=NOW,
)  # fmt: skip


def test_an_entry_is_found_by_its_key_until_its_tombstone() -> None:
    index = EntryIndex({})
    assert index.find(ENTRY.kafka_key()) is None
    index.apply(0, 10, ENTRY.kafka_key(), ENTRY.encode())
    assert index.find(ENTRY.kafka_key()) == ENTRY
    index.apply(0, 11, ENTRY.kafka_key(), None)
    assert index.find(ENTRY.kafka_key()) is None


def test_the_index_is_behind_until_it_has_applied_the_record_before_the_end() -> None:
    index = EntryIndex({})
    assert not index.behind(0, None)  # the end is not known yet
    assert not index.behind(0, 0)  # an empty partition
    assert index.behind(0, 1)
    index.apply(0, 0, None, b"a record without a key")  # names no entry, still read
    assert not index.behind(0, 1)
    assert index.behind(0, 2)
    assert index.behind(1, 1)  # each partition on its own
