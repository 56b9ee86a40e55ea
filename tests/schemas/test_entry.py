"""Embeddables entries: their Kafka key (the compacted topic's identity, so its bytes must never
change) and their record's round trip."""

import orjson
import pytest
from pydantic import ValidationError

from schemas.entry import Entry, entry_key, keyed_as_its_entry
from tests.factories import NOW

ENTRY = Entry(
    project_id="acme",
    embeddable_id="flow_1",
    identifier_key="email",
    identifier_value="ada@example.com",
    entry_id="en_1",
    updated_at=NOW,
)


def test_the_key_is_a_json_array_of_its_four_parts() -> None:
    # Compaction keeps the latest record per key: other bytes would orphan every stored entry.
    key = entry_key("acme", "flow_1", "email", "ada@example.com")
    assert key == b'["acme","flow_1","email","ada@example.com"]'
    assert ENTRY.kafka_key() == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("p", "a:b", "c", "v"), ("p", "a", "b:c", "v")),
        (("p", 'f","x', "k", "v"), ("p", "f", 'x","k', "v")),
        (("p", "f", "k", "v\n"), ("p", "f", "k", "v")),
    ],
)
def test_parts_never_run_into_each_other(
    one: tuple[str, str, str, str], other: tuple[str, str, str, str]
) -> None:
    assert entry_key(*one) != entry_key(*other)
    assert orjson.loads(entry_key(*one)) == list(one)


def test_a_record_is_keyed_as_its_entry_only_under_the_entrys_own_key() -> None:
    assert keyed_as_its_entry(ENTRY.kafka_key(), ENTRY.encode())
    assert not keyed_as_its_entry(b"en_1", ENTRY.encode())  # the processors send it on, re-keyed
    assert keyed_as_its_entry(ENTRY.kafka_key(), None)  # a tombstone under an entry key
    assert not keyed_as_its_entry(b"en_1", None)  # an alias the processors know
    assert keyed_as_its_entry(b"en_1", b"not an entry")  # set aside where it is


def test_the_record_round_trips_with_utc_times() -> None:
    encoded = ENTRY.encode()
    assert orjson.loads(encoded)["updated_at"] == "2026-03-04T12:00:00Z"
    assert orjson.loads(encoded)["schema_version"] == 1
    assert Entry.model_validate_json(encoded) == ENTRY


@pytest.mark.parametrize(
    "change",
    [
        {"project_id": ""},
        {"embeddable_id": ""},
        {"identifier_key": ""},
        {"entry_id": ""},
        {"updated_at": "2026-03-04T12:00:00"},  # no time zone
        {"schema_version": 2},
        {"surprise": 1},
    ],
)
def test_a_record_that_does_not_follow_the_schema_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Entry.model_validate(orjson.loads(ENTRY.encode()) | change)
