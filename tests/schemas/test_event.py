"""The Event record: its JSON Schema file, round trips, and what it refuses."""

from datetime import datetime

import pytest
from pydantic import ValidationError

from schemas import EVENT_SCHEMA_FILE, event_json_schema
from schemas.event import decode, encode
from tests.factories import make_event


def test_json_schema_file_matches_the_model() -> None:
    # After changing the model, regenerate the file with `python -m schemas`.
    assert EVENT_SCHEMA_FILE.read_text() == event_json_schema()


def test_round_trip_keeps_every_field() -> None:
    event = make_event(properties={"a": [1, {"b": None}]}, metrics={"m": 1.5}, user_id="u1")
    assert decode(encode(event)) == event


def test_times_are_utc_with_z() -> None:
    assert b'"event_time":"2026-03-04T12:00:00Z"' in encode(make_event())


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValidationError):
        make_event(event_time=datetime(2026, 3, 4, 12, 0))


def test_unknown_schema_version_is_rejected() -> None:
    with pytest.raises(ValidationError):
        make_event(schema_version=2)


def test_key_keeps_a_person_on_one_partition() -> None:
    assert make_event(user_id="u1").kafka_key() == b"p1:u1"
    assert make_event(anonymous_id="a1").kafka_key() == b"p1:a1"
    assert make_event(user_id="u1", anonymous_id="a1").kafka_key() == b"p1:a1"
    assert make_event().kafka_key() == b"p1:e1"


def test_a_record_from_before_unset_still_decodes() -> None:
    old = (
        b'{"schema_version":1,"event_id":"e1","project_id":"p1","source_format":"direct",'
        b'"name":"signup","event_time":"2026-03-04T12:00:00Z","received_at":"2026-03-04T12:00:00Z",'
        b'"user_data":{"set":{"plan":"pro"},"set_once":{}}}'
    )
    event = decode(old)
    assert event.user_data.unset == []
    assert event == make_event(user_data={"set": {"plan": "pro"}})


def test_unset_round_trips_and_takes_only_names() -> None:
    event = make_event(user_data={"unset": ["plan", "email"]})
    assert decode(encode(event)).user_data.unset == ["plan", "email"]
    with pytest.raises(ValidationError):
        make_event(user_data={"unset": {"plan": None}})
