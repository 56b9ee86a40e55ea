"""Dead letters: a Kafka record or a bulk element kept whole, readable, with where it came from
and why it was set aside."""

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from schemas.dead_letter import DeadLetter, GatewayOrigin, reason_for
from tests.factories import NOW, make_event

ORIGIN = GatewayOrigin(
    format="usermaven",
    path="/api/v1/s2s/event/",
    project_id="acme",
    received_at=NOW,
    index=3,
    event_id="e-3",
    api_key="KEY",
)


def record_letter(key: bytes | None = b"p1:u1", value: bytes | None = b"{}") -> DeadLetter:
    return DeadLetter.of_record(
        "invalid_record", "bad", "processors", "headwater.raw", 2, 41, key, value
    )


def test_a_record_letter_keeps_where_it_was_read_and_when_it_failed() -> None:
    before = datetime.now(UTC)
    letter = record_letter()
    assert (letter.topic, letter.partition, letter.offset) == ("headwater.raw", 2, 41)
    assert (letter.key, letter.payload, letter.origin) == ("p1:u1", "{}", None)
    assert before <= letter.failed_at <= datetime.now(UTC)
    assert letter.where() == "headwater.raw[2]@41"


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        (b"k\xff", b'{"a": "\xfe"}', ("k\ufffd", '{"a": "\ufffd"}')),  # invalid UTF-8 replaced
        (None, None, (None, "")),  # a tombstone without a key
    ],
)
def test_a_record_letter_keeps_any_bytes_readable(
    key: bytes | None, value: bytes | None, stored: tuple[str | None, str]
) -> None:
    letter = record_letter(key, value)
    assert (letter.key, letter.payload) == stored
    assert DeadLetter.model_validate_json(letter.encode()) == letter


def test_an_element_letter_is_a_pure_function_of_its_request() -> None:
    element = b'{"event_type": "signup", "user": {"id": 1.5e300}}'
    letter = DeadLetter.of_element("invalid_record", "user.id: bad", element, ORIGIN)
    assert (letter.stage, letter.failed_at, letter.origin) == ("gateway", NOW, ORIGIN)
    assert (letter.topic, letter.partition, letter.offset, letter.key) == (None, None, None, None)
    assert letter.payload.encode() == element
    assert letter.where() == "usermaven acme /api/v1/s2s/event/[3]"
    assert letter == DeadLetter.of_element("invalid_record", "user.id: bad", element, ORIGIN)


def test_the_encoding_round_trips_in_utc_and_adds_an_origin_only_when_there_is_one() -> None:
    plain = record_letter()
    gateway = DeadLetter.of_element("exceeds_limits", "too wide", b"{}", ORIGIN)
    assert "origin" not in orjson.loads(plain.encode())
    assert orjson.loads(gateway.encode())["origin"]["received_at"] == "2026-03-04T12:00:00Z"
    for letter in (plain, gateway):
        assert DeadLetter.model_validate_json(letter.encode()) == letter


@pytest.mark.parametrize(
    "change",
    [
        {"reason": "something_new"},
        {"failed_at": "2026-03-04T12:00:00"},  # no time zone
        {"surprise": 1},
    ],
)
def test_a_letter_that_does_not_follow_the_schema_is_refused(change: dict[str, object]) -> None:
    letter = orjson.loads(record_letter().encode()) | change
    with pytest.raises(ValidationError):
        DeadLetter.model_validate(letter)


@pytest.mark.parametrize(
    "change", [{"index": -1}, {"received_at": NOW.replace(tzinfo=None)}, {"token": "secret"}]
)
def test_an_origin_that_cannot_be_replayed_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GatewayOrigin.model_validate(ORIGIN.model_dump() | change)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"schema_version": 2}, "unsupported_schema_version"),
        ({"schema_version": 2, "name": None}, "unsupported_schema_version"),
        ({"name": None}, "invalid_record"),
        ({"event_time": NOW.replace(tzinfo=None)}, "invalid_record"),
    ],
)
def test_reason_for_tells_an_unknown_schema_version_from_an_invalid_record(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValidationError) as invalid:
        make_event(**fields)
    assert reason_for(invalid.value) == reason
