"""The checkpoint's bookkeeping without Kafka: its collaborators (the consumer's offset calls, the
dead-letter topic, the store, the reading of a range by offset) are plain in-memory objects that
record what was asked of them."""

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from schemas.dead_letter import DeadLetterReason
from schemas.topics import SOURCE_HEADER
from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.checkpoint import Checkpoint
from sinks.errors import SinkWriteFailed
from sinks.metrics import SinkMetrics
from sinks.offsets import CommitMetadata
from sinks.settings import SinkSettings

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Store(BatchingSink):
    """Rows are bytes; a value `bad` is refused; partitions in `down` fail as a whole; with
    `grouped`, the batches of a flush are written as one group."""

    def __init__(self, log: list[Any]) -> None:
        super().__init__(max_rows=1000, max_age_s=60.0)
        self.log = log
        self.down: set[int] = set()
        self.grouped = False

    def group_key(self, batch: Batch) -> Hashable | None:
        return 0 if self.grouped else None

    async def write_group(self, batches: list[Batch], token: str) -> list[list[RejectedRow]]:
        if any(batch.partition in self.down for batch in batches):
            raise SinkWriteFailed(f"{token} not written")
        self.log.append(("write group", token, [len(batch.rows) for batch in batches]))
        return [[] for _ in batches]

    def decode(self, topic: str, source: Source) -> Any:
        return source.value

    async def write(self, batch: Batch) -> list[RejectedRow]:
        if batch.partition in self.down:
            raise SinkWriteFailed(f"{batch.token} not written")
        self.log.append(("write", batch.token))
        return [RejectedRow(s, "refused") for s in batch.sources if s.value == b"bad"]


class Offsets:
    """The consumer's offset calls: commits and seeks go to the shared log."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.committed_offsets: dict[TopicPartition, int] = {}

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        for tp, meta in offsets.items():
            self.log.append(("commit", tp.partition, meta.offset, meta.metadata))
            self.committed_offsets[tp] = meta.offset

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.committed_offsets.get(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.log.append(("seek", partition.partition, offset))

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.log.extend(("seek", tp.partition, "beginning") for tp in partitions)


class DeadLetters:
    """Acknowledges every letter, unless `unreachable`."""

    def __init__(self, log: list[Any]) -> None:
        self.log = log
        self.unreachable = False

    async def send(
        self, topic: str, partition: int, source: Source, reason: DeadLetterReason, detail: str
    ) -> None:
        if self.unreachable:
            raise ConnectionError("no broker")
        self.log.append(("dead letter", partition, source.offset, reason))


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    value: bytes = b"ok"
    raw: tuple[int, int] | None = None  # the raw record it names: (partition, offset)

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return (
            [] if self.raw is None else [(SOURCE_HEADER, f"{self.raw[0]}:{self.raw[1]}".encode())]
        )


class Harness:
    """A checkpoint over the three fakes, sharing one log, and the consumer's `add`."""

    def __init__(self) -> None:
        self.log: list[Any] = []
        self.store, self.offsets = Store(self.log), Offsets(self.log)
        self.dead_letters = DeadLetters(self.log)
        self.metrics = SinkMetrics()
        self.checkpoint = Checkpoint(
            self.store,
            self.offsets,
            self.dead_letters,
            SinkSettings(retry_backoff_ms=10),
            self.metrics,
            self.rebuild,
        )
        self.kafka: dict[int, list[Record]] = {}  # partition -> its records, read by offset

    async def rebuild(self, tp: TopicPartition, first: int, last: int) -> None:
        self.log.append(("read", tp.partition, first, last))
        for record in self.kafka.get(tp.partition, []):
            if first <= record.offset <= last:
                await self.add(record)

    async def feed(self, partition: int, *records: Record) -> int:
        return await self.checkpoint.feed(TopicPartition("t", partition), records, self.add)

    async def add(self, record: Record) -> None:
        tp = TopicPartition("t", record.partition)
        if self.checkpoint.repeated(tp, record.headers):
            self.store.skip("t", record.partition, record.offset)
            return
        source = Source(record.offset, b"k", record.value)
        self.store.add(record.value, "t", record.partition, source)

    async def fail_once(self, partition: int, first: int, last: int) -> None:
        """Feed a range whose write fails once: it is to be read and written again."""
        await self.feed(partition, *records(partition, first, last))
        self.store.down = {partition}
        await self.checkpoint.flush()
        self.store.down = set()

    def take_log(self) -> list[Any]:
        taken, self.log[:] = list(self.log), []
        return taken


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def records(partition: int, first: int, last: int) -> list[Record]:
    return [Record(partition, offset) for offset in range(first, last + 1)]


def test_the_range_is_named_then_written_then_last_plus_one_committed() -> None:
    h = Harness()
    assert run(h.feed(0, *records(0, 10, 12))) == 3
    run(h.checkpoint.flush())
    assert h.take_log() == [
        ("commit", 0, 10, "headwater-pending 10 12 -"),
        ("write", "t:0:10-12"),
        ("commit", 0, 13, "headwater-source -"),
    ]
    assert h.checkpoint.healthy_store


def flushes_timed(metrics: SinkMetrics) -> float:
    return metrics.registry.get_sample_value("headwater_sink_flush_seconds_count") or 0.0


def test_each_flush_that_writes_is_timed() -> None:
    h = Harness()
    run(h.checkpoint.flush())  # nothing batched: nothing written, nothing timed
    assert flushes_timed(h.metrics) == 0
    run(h.feed(0, *records(0, 1, 2)))
    run(h.feed(1, *records(1, 5, 5)))
    run(h.checkpoint.flush())
    assert flushes_timed(h.metrics) == 1


def test_refused_rows_are_dead_lettered_before_the_commit_that_passes_them() -> None:
    h = Harness()
    run(h.feed(0, Record(0, 0), Record(0, 1, b"bad"), Record(0, 2)))
    run(h.checkpoint.flush())
    assert h.take_log()[1:] == [
        ("write", "t:0:0-2"),
        ("dead letter", 0, 1, "rejected_by_store"),
        ("commit", 0, 3, "headwater-source -"),
    ]


def test_a_dead_letter_not_acknowledged_commits_nothing_past_the_range() -> None:
    h = Harness()
    h.dead_letters.unreachable = True
    run(h.feed(0, Record(0, 0, b"bad")))
    with pytest.raises(ConnectionError):
        run(h.checkpoint.flush())
    assert h.offsets.committed_offsets == {P0: 0}


def test_a_failed_write_commits_nothing_and_rewinds_to_the_committed_offset() -> None:
    h = Harness()
    run(h.feed(1, *records(1, 5, 7)))
    h.store.down = {1}
    run(h.checkpoint.flush())
    assert h.take_log() == [("commit", 1, 5, "headwater-pending 5 7 -"), ("seek", 1, 5)]
    assert not h.checkpoint.healthy_store
    h.store.down = set()
    assert run(h.feed(1, *records(1, 5, 9))) == 3  # the same range, and no further
    assert h.take_log() == [("seek", 1, 8)]
    assert h.checkpoint.flush_due()
    run(h.checkpoint.flush())
    assert h.take_log()[1:] == [("write", "t:1:5-7"), ("commit", 1, 8, "headwater-source -")]
    assert h.checkpoint.healthy_store


def test_a_range_being_written_again_waits_for_its_last_record_whatever_else_is_flushed() -> None:
    h = Harness()
    run(h.fail_once(1, 5, 7))
    h.take_log()
    run(h.feed(1, *records(1, 5, 6)))
    run(h.feed(0, *records(0, 0, 1)))
    assert not h.checkpoint.flush_due()
    run(h.checkpoint.flush())
    assert ("write", "t:0:0-1") in h.take_log()
    assert [b.token for b in h.store.pending()] == ["t:1:5-6"]
    run(h.feed(1, Record(1, 7)))
    run(h.checkpoint.flush())
    assert ("write", "t:1:5-7") in h.take_log()


def test_assignment_takes_over_the_marks_and_a_range_left_pending() -> None:
    h = Harness()
    committed = {
        P0: OffsetAndMetadata(100, "headwater-pending 100 101 3:41"),
        P1: OffsetAndMetadata(50, "headwater-pending 40 60 3:9"),  # an older range: done
    }
    h.checkpoint.assign([P0, P1], committed)
    added = run(h.feed(0, Record(0, 100, raw=(3, 41)), Record(0, 101, raw=(3, 42)), Record(0, 102)))
    assert added == 2
    assert h.take_log() == [("seek", 0, 102)]
    assert run(h.feed(1, *records(1, 50, 70))) == 21
    run(h.checkpoint.flush())
    assert ("commit", 0, 102, "headwater-source 3:42") in h.take_log()


def test_a_rewind_restores_the_marks_as_of_the_commit() -> None:
    h = Harness()
    h.checkpoint.assign([P0], {P0: OffsetAndMetadata(0, "headwater-source 3:1")})
    first_read = [Record(0, 0, raw=(3, 1)), Record(0, 1, raw=(3, 2))]
    run(h.feed(0, *first_read))
    h.store.down = {0}
    run(h.checkpoint.flush())
    h.store.down = set()
    run(h.feed(0, *first_read))
    run(h.checkpoint.flush())
    assert [b for b in h.take_log() if b[0] != "seek"][-2:] == [
        ("write", "t:0:0-1"),
        ("commit", 0, 2, "headwater-source 3:2"),
    ]


def test_revoke_writes_what_is_complete_and_drops_a_range_being_written_again() -> None:
    h = Harness()
    run(h.fail_once(1, 5, 7))
    run(h.feed(1, Record(1, 5)))
    run(h.feed(0, Record(0, 0)))
    h.take_log()
    run(h.checkpoint.revoke([P0, P1]))
    assert h.take_log()[1:] == [("write", "t:0:0-0"), ("commit", 0, 1, "headwater-source -")]
    assert h.store.pending() == []
    assert not h.checkpoint.flush_due()
    assert run(h.feed(1, *records(1, 5, 9))) == 5  # the range is the next owner's to cut


def test_the_last_commit_on_stop_rewinds_nothing() -> None:
    h = Harness()
    run(h.feed(0, Record(0, 0)))
    run(h.feed(1, Record(1, 0)))
    h.store.down = {1}
    run(h.checkpoint.commit())
    log = h.take_log()
    assert ("commit", 0, 1, "headwater-source -") in log
    assert not any(entry[0] == "seek" for entry in log)
    assert h.offsets.committed_offsets[P1] == 0


# A group: the batches of several partitions written as one insert.

GROUP_0_1 = "headwater-pending 10 11 - 0=10-11=-;1=5-5=3:7"


def grouped_harness() -> Harness:
    h = Harness()
    h.store.grouped = True
    h.kafka = {0: records(0, 10, 12), 1: [Record(1, 5, raw=(3, 8)), Record(1, 6, raw=(3, 9))]}
    return h


def test_a_group_names_all_its_ranges_in_each_pending_commit_then_writes_once() -> None:
    h = grouped_harness()
    h.checkpoint.assign([P0, P1], {P1: OffsetAndMetadata(5, "headwater-source 3:7")})
    run(h.feed(0, *records(0, 10, 11)))
    run(h.feed(1, Record(1, 5, raw=(3, 8))))
    run(h.checkpoint.flush())
    assert h.take_log() == [
        ("commit", 0, 10, GROUP_0_1),
        ("commit", 1, 5, "headwater-pending 5 5 3:7 0=10-11=-;1=5-5=3:7"),
        ("write group", "t:0:10-11,1:5-5", [2, 1]),
        ("commit", 0, 12, "headwater-source -"),
        ("commit", 1, 6, "headwater-source 3:8"),
    ]


def test_a_failed_group_is_read_again_by_offset_and_written_whole_under_its_token() -> None:
    h = grouped_harness()
    h.checkpoint.assign([P0, P1], {P1: OffsetAndMetadata(5, "headwater-source 3:7")})
    run(h.feed(0, *records(0, 10, 11)))
    run(h.feed(1, Record(1, 5, raw=(3, 8))))
    h.store.down = {1}
    run(h.checkpoint.flush())
    assert h.take_log()[2:] == [("seek", 0, 10), ("seek", 1, 5)]
    h.store.down = set()
    assert run(h.feed(0, *records(0, 10, 12))) == 0  # nothing read on until the group is written
    assert h.checkpoint.flush_due()
    run(h.checkpoint.flush())
    assert h.take_log() == [
        ("read", 0, 10, 11),
        ("read", 1, 5, 5),
        ("write group", "t:0:10-11,1:5-5", [2, 1]),
        ("commit", 0, 12, "headwater-source -"),
        ("commit", 1, 6, "headwater-source 3:8"),
        ("seek", 0, 12),
        ("seek", 1, 6),
    ]
    assert not h.checkpoint.flush_due()
    assert run(h.feed(0, Record(0, 12))) == 1


def test_a_sink_given_one_partition_of_a_pending_group_writes_the_whole_group() -> None:
    """A rebalance split the group: partition 1 is another sink's, which writes the group too;
    whichever insert lands first carries every row, the other is dropped as a repeat."""
    h = grouped_harness()
    h.checkpoint.assign([P0], {P0: OffsetAndMetadata(10, GROUP_0_1)})
    assert run(h.feed(0, *records(0, 10, 12))) == 0
    run(h.checkpoint.flush())
    assert h.take_log() == [
        ("read", 0, 10, 11),
        ("read", 1, 5, 5),  # filtered by the marks partition 1 had at the range's start
        ("write group", "t:0:10-11,1:5-5", [2, 1]),
        ("commit", 0, 12, "headwater-source -"),
        ("seek", 0, 12),
    ]
    assert h.store.pending() == []


def test_revoking_every_partition_of_a_pending_group_leaves_it_to_the_next_owners() -> None:
    h = grouped_harness()
    h.checkpoint.assign([P0, P1], {P0: OffsetAndMetadata(10, GROUP_0_1)})
    run(h.checkpoint.revoke([P0]))
    assert not h.checkpoint.flush_due()
    assert run(h.feed(0, *records(0, 10, 12))) == 3


def test_a_group_too_large_to_name_in_a_commit_is_written_partition_by_partition() -> None:
    h = Harness()
    h.store.grouped = True
    marks = {raw: 10**9 for raw in range(300)}
    for partition in (0, 1):
        tp = TopicPartition("t", partition)
        h.checkpoint.assign([tp], {tp: OffsetAndMetadata(0, CommitMetadata(marks).encode())})
        run(h.feed(partition, Record(partition, 0)))
    run(h.checkpoint.flush())
    writes = [entry for entry in h.take_log() if entry[0].startswith("write")]
    assert writes == [("write", "t:0:0-0"), ("write", "t:1:0-0")]
