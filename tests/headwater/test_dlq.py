"""`headwater dlq list | replay`: the letters of the processors and the sink go back to their
topic; the gateway's are translated again with the settings of now. The live tests run the
command against the real broker."""

import uuid

import orjson
import pytest

from gateway.errors import InvalidPayload
from gateway.projects import Project, UsermavenKey, hash_secret
from gateway.records import OutgoingRecord
from gateway.settings import GatewaySettings
from headwater.dlq import record_for
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.event import Event, decode, encode
from tests.factories import NOW
from tests.gateway.parts import accepted, request_parts
from tests.helpers import environment, produce, read_topic_until, run_headwater

# A processors' letter as written before gateway letters existed.
OLD_LETTER = (
    b'{"reason":"invalid_record","detail":"bad","stage":"processors","topic":"headwater.raw",'
    b'"partition":0,"offset":7,"key":"k","payload":"{}","failed_at":"2026-03-04T12:00:00Z"}'
)


def dlq(*args: str, bootstrap: str, **settings: str) -> str:
    return run_headwater("dlq", *args, env=environment({"KAFKA_BOOTSTRAP": bootstrap, **settings}))


def gateway_letter(marker: str) -> OutgoingRecord:
    """The dead letter the gateway makes of an element with three properties when it allows
    two: the record it produces."""
    project = Project(
        id=f"replay-{marker}",
        usermaven_keys=[UsermavenKey(api_key="KEY", server_token_hash=hash_secret("SECRET"))],
    )
    element = {
        "event_type": "signup",
        "user": {"id": 42},
        "event_attributes": {"marker": marker, "b": 2, "c": 3},
    }
    parts = request_parts(
        [element], path="/api/v1/s2s/event/", query="token=KEY.SECRET",
        settings=GatewaySettings(max_properties=2),
    )  # fmt: skip
    done = accepted(parts, [project])
    [record] = done.records
    assert (record.topic, done.set_aside) == (topics.DEAD_LETTER, 1)
    return record


def test_letters_written_before_origins_still_parse_and_encode_the_same() -> None:
    letter = DeadLetter.model_validate_json(OLD_LETTER)
    assert (letter.origin, letter.where()) == (None, "headwater.raw[0]@7")
    assert letter.encode() == OLD_LETTER


def test_a_gateway_letter_says_where_its_element_came_from() -> None:
    letter = DeadLetter.model_validate_json(gateway_letter("m").value or b"")
    assert (letter.topic, letter.partition, letter.offset, letter.failed_at) == (
        None,
        None,
        None,
        NOW,
    )
    assert letter.where() == "usermaven replay-m /api/v1/s2s/event/[0]"
    assert orjson.loads(letter.payload)["event_attributes"]["marker"] == "m"


def test_a_replay_produces_a_letters_record_or_its_event_made_again() -> None:
    old = DeadLetter.model_validate_json(OLD_LETTER)
    assert record_for(old, GatewaySettings()) == ("headwater.raw", b"k", b"{}")
    letter = DeadLetter.model_validate_json(gateway_letter("m").value or b"")
    assert letter.origin is not None
    with pytest.raises(InvalidPayload):
        record_for(letter, GatewaySettings(max_properties=2))
    topic, key, value = record_for(letter, GatewaySettings(max_properties=3))
    event = decode(value)
    assert (topic, key, value) == (topics.RAW, event.kafka_key(), encode(event))
    assert (event.user_id, event.event_id) == ("42", letter.origin.event_id)
    other = letter.origin.model_copy(update={"format": "x"})
    with pytest.raises(ValueError, match="no translation"):
        record_for(letter.model_copy(update={"origin": other}), GatewaySettings())


@pytest.mark.integration
def test_list_and_replay_put_payloads_back_on_their_topic(kafka_bootstrap: str) -> None:
    marker = uuid.uuid4().hex
    for reason in ("processing_failed", "invalid_record"):
        letter = DeadLetter.of_record(
            reason, f"{marker} broke", "processors", topics.RAW, 0, 7,
            f"key-{marker}".encode(), f'{{"marker": "{marker}", "reason": "{reason}"}}'.encode(),
        )  # fmt: skip
        produce(kafka_bootstrap, topics.DEAD_LETTER, f"key-{marker}".encode(), letter.encode())

    listed = dlq("list", "--stage", "processors", "--limit", "100000", bootstrap=kafka_bootstrap)
    assert listed.count(f"{marker} broke") == 2
    assert "processing_failed" in listed and "invalid_record" in listed

    replayed = dlq("replay", "--reason", "processing_failed", "--yes", bootstrap=kafka_bootstrap)
    assert replayed.startswith("replayed ")
    record = read_topic_until(
        kafka_bootstrap, topics.RAW, lambda r: marker.encode() in (r.value or b"")
    )
    assert record.key == f"key-{marker}".encode()
    assert b"processing_failed" in (record.value or b"")


def events_marked(bootstrap: str, marker: str, count: int) -> list[Event]:
    """The first `count` events on headwater.raw that carry `marker`."""
    found: list[Event] = []

    def enough(value: bytes | None) -> bool:
        if marker.encode() in (value or b""):
            found.append(decode(value or b""))
        return len(found) == count

    read_topic_until(bootstrap, topics.RAW, lambda r: enough(r.value))
    return found


@pytest.mark.integration
def test_a_gateway_letter_is_translated_again_with_the_settings_of_now(
    kafka_bootstrap: str,
) -> None:
    marker = uuid.uuid4().hex
    record = gateway_letter(marker)
    produce(kafka_bootstrap, record.topic, record.key, record.value or b"")
    project = f"replay-{marker}"
    replay = ("replay", "--stage", "gateway", "--reason", "exceeds_limits", "--yes")
    still = dlq(*replay, bootstrap=kafka_bootstrap, HEADWATER_GATEWAY_MAX_PROPERTIES="2")
    assert f"{project} /api/v1/s2s/event/[0]: event_attributes: more than 2 keys" in still

    for _ in range(2):
        done = dlq(*replay, bootstrap=kafka_bootstrap, HEADWATER_GATEWAY_MAX_PROPERTIES="3")
        assert done.startswith("replayed ") and project not in done
    first, again = events_marked(kafka_bootstrap, marker, 2)
    assert first == again  # the same event twice: dedupe downstream collapses the replays
    assert (first.project_id, first.user_id, first.source_format) == (project, "42", "usermaven")
    assert first.properties == {"marker": marker, "b": 2, "c": 3}
    listed = dlq("list", "--stage", "gateway", "--limit", "100000", bootstrap=kafka_bootstrap)
    [line] = [line for line in listed.splitlines() if project in line]
    assert "exceeds_limits" in line and line.endswith("event_attributes: more than 2 keys")
