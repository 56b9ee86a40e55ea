"""Place: a record off Headwater's partition rule becomes one copy for its rule partition and
touches no state; entries are applied only under their own key on their rule partition; the
moves are counted and logged (no broker: the chain over dict tables)."""

import asyncio
import logging

import pytest

from processors.entry_index import EntryIndex
from processors.place import EntryPlacement, Reroutes, Rule
from processors.records import Outgoing
from runtime.partitioning import rule_partition
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.entry import entry_key
from schemas.event import decode, encode
from tests.factories import make_event
from tests.processors.chain_worker import EMBEDDABLE, ENTRY, RawRecord, Worker

PARTITIONS = 4
EVENT = make_event(event_id="e1", anonymous_id="a1")
HOME = rule_partition(EVENT.kafka_key(), PARTITIONS)
ELSEWHERE = (HOME + 1) % PARTITIONS
ENTRY_HOME = rule_partition(ENTRY.kafka_key(), PARTITIONS)


def handle(worker: Worker, record: RawRecord) -> list[Outgoing]:
    return asyncio.run(worker.chain.handle(record))


def rerouted(worker: Worker, topic: str, client: str) -> float:
    labels = {"topic": topic, "client": client}
    value = worker.metrics.registry.get_sample_value("headwater_records_rerouted_total", labels)
    return value or 0.0


def test_a_raw_record_off_the_rule_becomes_one_copy_for_its_rule_partition() -> None:
    worker = Worker(partitions=PARTITIONS)
    producers = [("client-id", b"billing"), ("trace", b"t1")]
    record = RawRecord(7, encode(EVENT), key=None, partition=ELSEWHERE, headers=producers)
    [copy] = handle(worker, record)
    assert (copy.topic, copy.key, copy.value, copy.partition) == (
        topics.RAW, EVENT.kafka_key(), record.value, HOME,
    )  # fmt: skip
    assert copy.headers == [*producers, (topics.REROUTED_HEADER, f"{ELSEWHERE}:7".encode())]
    assert worker.seen_table == {}  # no state read or written for it
    assert worker.count("events_received") == 0  # counted where the copy lands
    assert rerouted(worker, topics.RAW, "billing") == 1


def test_the_copy_is_processed_where_it_lands_and_a_second_copy_is_a_repeat() -> None:
    """A worker killed after sending a copy reads the original again and sends another."""
    worker = Worker(partitions=PARTITIONS)
    original = RawRecord(7, encode(EVENT), partition=ELSEWHERE)
    first, second = handle(worker, original), handle(worker, original)
    assert first == second
    [copy] = first
    assert copy.value is not None
    [event] = handle(worker, RawRecord(20, copy.value, key=copy.key, partition=HOME))
    assert (event.topic, event.partition) == (topics.EVENTS, HOME)
    assert decode(event.value or b"").person_id == "a1"
    assert handle(worker, RawRecord(21, copy.value, key=copy.key, partition=HOME)) == []
    assert rerouted(worker, topics.RAW, "direct") == 2  # no client-id header: its format


def test_a_record_that_is_not_an_event_is_set_aside_where_it_is() -> None:
    worker = Worker(partitions=PARTITIONS)
    [letter] = handle(worker, RawRecord(3, b"{not json", partition=ELSEWHERE))
    assert (letter.topic, letter.partition) == (topics.DEAD_LETTER, None)


def test_an_event_waits_for_its_entrys_copy_on_its_way() -> None:
    worker = Worker(entry_wait_ms=5_000, partitions=PARTITIONS)
    worker.entries.moved(ELSEWHERE, 0, ENTRY.kafka_key())  # read there, sent on

    async def copy_applied_meanwhile() -> list[Outgoing]:
        event = encode(make_event(**EMBEDDABLE))
        handling = asyncio.create_task(
            worker.chain.handle(RawRecord(1, event, partition=ENTRY_HOME))
        )
        await asyncio.sleep(0.1)
        assert not handling.done()
        worker.entries.apply(ENTRY_HOME, 0, ENTRY.kafka_key(), ENTRY.encode())
        return await handling

    [outgoing] = asyncio.run(copy_applied_meanwhile())
    assert decode(outgoing.value or b"").person_id == "entry-ann"


def test_an_event_waits_while_any_entries_partition_held_is_behind() -> None:
    index = EntryIndex({})
    assert index.settled(b"k", {0: None, 1: 0})
    assert not index.settled(b"k", {0: None, 1: 1})  # partition 1 has a record not read yet
    index.moved(1, 0, b"k")
    assert index.settled(b"other", {1: 1}) and not index.settled(b"k", {1: 1})
    index.apply(2, 5, b"k", b"{}")
    assert index.settled(b"k", {1: 1})


class Entries:
    """The entries agent's placement over dict tables."""

    def __init__(self) -> None:
        self.table: dict[bytes, bytes] = {}
        self.aliases: dict[bytes, bytes] = {}
        self.index = EntryIndex(self.table)
        self.metrics = ComponentMetrics("processors")
        rule = Rule(lambda: PARTITIONS, Reroutes(self.metrics))
        self.placement = EntryPlacement(self.index, self.aliases, rule)

    def take(
        self, offset: int, key: bytes | None, value: bytes | None, partition: int
    ) -> Outgoing | None:
        record = RawRecord(offset, value, key=key, topic=topics.ENTRIES, partition=partition)
        return self.placement.take(record)


def test_an_entry_on_its_rule_partition_is_applied_there() -> None:
    entries = Entries()
    assert entries.take(0, ENTRY.kafka_key(), ENTRY.encode(), ENTRY_HOME) is None
    assert entries.index.find(ENTRY.kafka_key()) == ENTRY
    assert entries.take(1, ENTRY.kafka_key(), None, ENTRY_HOME) is None
    assert entries.table == {}


def test_an_entry_off_its_rule_partition_is_sent_there_not_applied() -> None:
    entries = Entries()
    elsewhere = (ENTRY_HOME + 1) % PARTITIONS
    copy = entries.take(4, ENTRY.kafka_key(), ENTRY.encode(), elsewhere)
    assert copy is not None
    assert (copy.topic, copy.key, copy.value, copy.partition) == (
        topics.ENTRIES, ENTRY.kafka_key(), ENTRY.encode(), ENTRY_HOME,
    )  # fmt: skip
    assert entries.table == {}
    assert not entries.index.behind(elsewhere, 5)  # read
    tombstone = entries.take(5, ENTRY.kafka_key(), None, elsewhere)
    assert tombstone is not None
    assert (tombstone.key, tombstone.value, tombstone.partition) == (
        ENTRY.kafka_key(), None, ENTRY_HOME,
    )  # fmt: skip


def test_an_oddly_keyed_entry_and_its_tombstone_are_sent_under_the_entrys_own_key() -> None:
    entries = Entries()
    odd = b"entry-ann"
    home = rule_partition(odd, PARTITIONS)  # even on the odd key's own rule partition
    copy = entries.take(0, odd, ENTRY.encode(), home)
    assert copy is not None
    assert (copy.key, copy.partition) == (ENTRY.kafka_key(), ENTRY_HOME)
    assert entries.aliases == {odd: ENTRY.kafka_key()}
    tombstone = entries.take(1, odd, None, home)
    assert tombstone is not None
    assert (tombstone.key, tombstone.value, tombstone.partition) == (
        ENTRY.kafka_key(), None, ENTRY_HOME,
    )  # fmt: skip
    assert entries.table == {}


def test_an_entries_record_that_is_not_an_entry_is_kept_where_it_is() -> None:
    entries = Entries()
    key = entry_key("p1", "flow", "email", "x")
    assert entries.take(0, key, b"not an entry", 0) is None
    assert entries.table == {key: b"not an entry"}  # as before: an event naming it is set aside


def test_moves_are_logged_at_most_once_a_minute_per_topic_and_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    reroutes = Reroutes(ComponentMetrics("processors"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="processors.place"):
        for at in (0.0, 1.0, 30.0, 61.0, 62.0):
            now[0] = at
            reroutes.count(topics.RAW, "billing")
        reroutes.count(topics.ENTRIES, "billing")
    lines = [(r.topic, r.records) for r in caplog.records]  # type: ignore[attr-defined]
    assert lines == [(topics.RAW, 1), (topics.RAW, 3), (topics.ENTRIES, 1)]
