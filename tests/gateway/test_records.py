"""The gateway's one choice of topic and key for each normalised item; no Kafka."""

from datetime import UTC, datetime

from gateway.formats import DeletedEntry, Reply, Translation
from gateway.records import OutgoingRecord, event_record, records_of
from schemas import topics
from schemas.dead_letter import DeadLetter, GatewayOrigin
from schemas.entry import Entry, entry_key
from schemas.event import encode
from tests.factories import NOW, make_event

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HUMAN = make_event(context={"user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"})
BOT = make_event(event_id="e2", context={"user_agent": GOOGLEBOT})


def test_events_go_to_the_raw_topic_under_their_partition_key() -> None:
    assert event_record(HUMAN, keeps_bots_apart=True) == OutgoingRecord(
        topics.RAW, HUMAN.kafka_key(), encode(HUMAN)
    )


def test_a_bots_event_goes_to_the_bots_topic_only_where_the_endpoint_keeps_bots_apart() -> None:
    assert event_record(BOT, keeps_bots_apart=True).topic == topics.BOTS
    assert event_record(BOT, keeps_bots_apart=False).topic == topics.RAW


def test_a_translation_becomes_events_then_entries_then_dead_letters() -> None:
    entry = Entry(
        project_id="p1", embeddable_id="flow", identifier_key="email",
        identifier_value="a@b.c", entry_id="x", updated_at=NOW,
    )  # fmt: skip
    gone = entry_key("p1", "flow", "email", "old@b.c")
    origin = GatewayOrigin(
        format="usermaven", path="/api/v1/s2s/event", project_id="p1",
        received_at=datetime(2026, 3, 4, tzinfo=UTC), index=1, event_id="e9",
    )  # fmt: skip
    letter = DeadLetter.of_element("invalid_record", "bad", b"5", origin)
    translation = Translation(
        Reply(), events=[BOT, HUMAN], entries=[entry, DeletedEntry(gone)], dead_letters=[letter]
    )
    records, bots = records_of(translation, "p1", keeps_bots_apart=True)
    assert [(r.topic, r.key) for r in records] == [
        (topics.BOTS, BOT.kafka_key()),
        (topics.RAW, HUMAN.kafka_key()),
        (topics.ENTRIES, entry.kafka_key()),
        (topics.ENTRIES, gone),
        (topics.DEAD_LETTER, b"p1"),
    ]
    assert [r.value for r in records[2:]] == [entry.encode(), None, letter.encode()]
    assert bots == 1
