"""`headwater dlq list | replay` at the terminal, against the session's broker: letters filtered
and counted, one line each, and a replay that asks first. Each test's letters name a topic of
their own, so the filter finds only them in the shared dead-letter topic."""

import uuid

import pytest
from click.testing import CliRunner, Result

from headwater.cli import cli
from schemas import topics
from schemas.dead_letter import DeadLetter, DeadLetterReason
from tests.helpers import produce

pytestmark = pytest.mark.integration


@pytest.fixture
def own_topic(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    return f"test.dlq-{uuid.uuid4().hex[:8]}"


def set_aside(bootstrap: str, topic: str, *reasons: DeadLetterReason) -> None:
    """One processors' letter per reason, read from `topic` at offsets 10, 11, ..."""
    for offset, reason in enumerate(reasons, start=10):
        letter = DeadLetter.of_record(
            reason, f"broken {offset}\ntraceback", "processors", topic, 0, offset, b"k", b"{}"
        )
        produce(bootstrap, topics.DEAD_LETTER, b"k", letter.encode())


def dlq(*args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["dlq", *args], input=answer)


def test_list_shows_matching_letters_oldest_first_up_to_the_limit(
    kafka_bootstrap: str, own_topic: str
) -> None:
    set_aside(kafka_bootstrap, own_topic, "invalid_record", "processing_failed", "invalid_record")
    listed = dlq("list", "--topic", own_topic, "--limit", "2")
    assert listed.exit_code == 0, listed.output
    *letters, total = listed.output.splitlines()
    assert total == "3 dead letter(s), 2 shown"
    assert [line.split()[3:] for line in letters] == [
        ["processors", "invalid_record", f"{own_topic}[0]@10", "broken", "10"],
        ["processors", "processing_failed", f"{own_topic}[0]@11", "broken", "11"],
    ]

    only = dlq("list", "--topic", own_topic, "--reason", "processing_failed", "--stage", "sink")
    assert only.output == "0 dead letter(s)\n"


def test_replay_says_how_many_it_would_replay_and_stops_on_no(
    kafka_bootstrap: str, own_topic: str
) -> None:
    set_aside(kafka_bootstrap, own_topic, "processing_failed", "invalid_record")
    declined = dlq("replay", "--topic", own_topic, "--reason", "invalid_record", answer="n\n")
    assert declined.exit_code == 1
    assert "replay 1 dead letter(s)? [y/N]: n" in declined.output
    assert "Aborted!" in declined.output and "replayed" not in declined.output
