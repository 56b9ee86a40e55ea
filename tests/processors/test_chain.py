"""The processing chain over dict tables, with no faust and no Kafka: what each raw record
becomes (an event for the events topic, a dead letter, or nothing), and what is counted."""

import asyncio
import time
from datetime import timedelta

import orjson

from processors.dedupe import event_identity
from processors.records import Outgoing
from schemas import topics
from schemas.event import decode, encode
from tests.factories import NOW, make_event
from tests.processors.chain_worker import EMBEDDABLE, KEY, PARTITION, RawRecord, Worker


def test_an_event_goes_to_the_events_partition_of_its_raw_record_naming_it_in_a_header() -> None:
    worker = Worker()
    [outgoing] = worker.handle(7, encode(make_event(user_id="u1", properties={"amount": 3})))
    assert (outgoing.topic, outgoing.key, outgoing.partition) == (topics.EVENTS, KEY, PARTITION)
    assert outgoing.headers == [(topics.SOURCE_HEADER, f"{PARTITION}:7".encode())]
    assert (worker.count("events_received"), worker.count("events_sent", topics.EVENTS)) == (1, 1)


def test_the_person_is_resolved_and_properties_split_into_metrics_and_dimensions() -> None:
    worker = Worker()
    worker.handed_on(1, make_event(event_id="link", anonymous_id="a1", user_id="u1"))
    later = make_event(
        event_id="later", anonymous_id="a1", event_time=NOW + timedelta(seconds=1),
        properties={"amount": 3, "plan": {"name": "pro"}},
    )  # fmt: skip
    handed = worker.handed_on(2, later)
    assert handed.person_id == "u1"
    assert (handed.metrics, handed.dimensions) == ({"amount": 3.0}, {"plan.name": "pro"})


def test_a_repeat_is_dropped_and_counted_and_a_replayed_record_gives_the_same_output() -> None:
    worker = Worker()
    event = make_event(idempotency_key="key-1")
    first = worker.handle(1, encode(event))
    assert worker.handle(2, encode(event.model_copy(update={"url": "https://other"}))) == []
    assert worker.handle(1, encode(event)) == first  # read again after a crash: not a repeat
    assert (worker.count("duplicates"), worker.count("events_dropped")) == (1, 1)


def test_an_embeddables_event_belongs_to_its_entry() -> None:
    worker = Worker()
    worker.apply_entry()
    assert worker.handed_on(1, make_event(**EMBEDDABLE)).person_id == "entry-ann"


def test_an_event_without_its_entry_is_set_aside_and_not_taken_for_a_duplicate_later() -> None:
    worker = Worker()
    event = make_event(**EMBEDDABLE)
    letter = worker.set_aside(1, encode(event))
    assert letter["reason"] == "ENTRY_NOT_FOUND"
    assert (letter["stage"], letter["topic"], letter["offset"]) == ("processors", topics.RAW, 1)
    assert letter["payload"] == encode(event).decode()
    assert (worker.count("events_dropped"), worker.count("duplicates")) == (1, 0)
    worker.apply_entry()  # the entry arrives and the letter is put back
    assert worker.handed_on(2, event).person_id == "entry-ann"


def test_an_event_waits_for_the_entries_not_read_yet() -> None:
    worker = Worker(entry_wait_ms=5_000)
    worker.entries_ends = {PARTITION: 1}  # a record the worker has not applied yet

    async def entry_read_meanwhile() -> list[Outgoing]:
        handling = asyncio.create_task(
            worker.chain.handle(RawRecord(1, encode(make_event(**EMBEDDABLE))))
        )
        await asyncio.sleep(0.1)
        assert not handling.done()
        worker.apply_entry()
        return await handling

    [outgoing] = asyncio.run(entry_read_meanwhile())
    assert decode(outgoing.value).person_id == "entry-ann"


def test_the_wait_for_entries_is_bounded() -> None:
    worker = Worker(entry_wait_ms=100)
    worker.entries_ends = {PARTITION: 1}  # never read here
    started = time.monotonic()
    assert worker.set_aside(1, encode(make_event(**EMBEDDABLE)))["reason"] == "ENTRY_NOT_FOUND"
    assert 0.1 <= time.monotonic() - started < 2


def test_records_that_are_not_events_are_set_aside_with_their_reason() -> None:
    worker = Worker()
    newer = orjson.loads(encode(make_event())) | {"schema_version": 2}
    records = {b"{not json": "invalid_record", None: "invalid_record",
               orjson.dumps(newer): "unsupported_schema_version"}  # fmt: skip
    for offset, (value, reason) in enumerate(records.items()):
        letter = worker.set_aside(offset, value)
        assert (letter["reason"], letter["payload"]) == (reason, (value or b"").decode()), value
    assert (worker.count("events_dropped"), worker.count("events_sent", topics.EVENTS)) == (3, 0)


def test_a_record_a_step_cannot_process_is_set_aside_not_crashed_on() -> None:
    worker = Worker()
    too_large = make_event(properties={"count": 2**70})  # the encoder refuses it
    letter = worker.set_aside(1, too_large.model_dump_json().encode())
    assert letter["reason"] == "processing_failed"
    assert "64-bit" in str(letter["detail"])


def test_expired_sightings_are_swept_by_the_time_of_the_events_handed_on() -> None:
    worker = Worker(sweep_every=1)
    early = make_event(idempotency_key="early")
    late = make_event(idempotency_key="late", received_at=NOW + timedelta(minutes=2))
    worker.handle(1, encode(early))
    worker.handle(2, encode(late))  # moves the clock past the early sighting's expiry
    assert list(worker.seen_table) == [event_identity(late)]
