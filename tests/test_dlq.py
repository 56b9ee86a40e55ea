"""`headwater dlq list | replay` against the real broker."""

import uuid

import pytest

from schemas import topics
from schemas.dead_letter import DeadLetter
from tests.helpers import environment, produce, read_topic_until, run_headwater

pytestmark = pytest.mark.integration


def dlq(*args: str, bootstrap: str) -> str:
    return run_headwater("dlq", *args, env=environment({"KAFKA_BOOTSTRAP": bootstrap}))


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
