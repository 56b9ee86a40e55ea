"""The batching base: flush by size or age, commit `last + 1`, failures not committed."""

import asyncio
import time
from collections.abc import Hashable
from typing import Any

import pytest

from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.errors import SinkWriteFailed
from tests.factories import make_event


class RecordingSink(BatchingSink):
    """A sink whose store is a list; partition 1 fails when `broken` is set."""

    def __init__(self, max_rows: int = 3, max_age_s: float = 60.0) -> None:
        super().__init__(max_rows, max_age_s)
        self.written: list[Batch] = []
        self.broken = False

    def decode(self, topic: str, source: Source) -> Any:
        return source.value

    async def write(self, batch: Batch) -> list[RejectedRow]:
        if self.broken and batch.partition == 1:
            raise SinkWriteFailed("partition 1 is down")
        self.written.append(batch)
        return [
            RejectedRow(s, "refused")
            for s, r in zip(batch.sources, batch.rows, strict=True)
            if r.name == "bad"
        ]


class GroupingSink(RecordingSink):
    """Writes the batches of even partitions as one group, of odd ones alone."""

    def __init__(self) -> None:
        super().__init__(max_rows=1000)
        self.groups: list[tuple[str, list[int]]] = []

    def group_key(self, batch: Batch) -> Hashable | None:
        return "even" if batch.partition % 2 == 0 else None

    async def write_group(self, batches: list[Batch], token: str) -> list[list[RejectedRow]]:
        if self.broken:
            raise SinkWriteFailed(f"{token} not written")
        self.groups.append((token, [batch.partition for batch in batches]))
        return [[RejectedRow(batch.sources[0], "refused")] for batch in batches]


def add(sink: BatchingSink, partition: int, offset: int, **fields: object) -> None:
    sink.add(make_event(**fields), "t", partition, Source(offset, b"k", b"v"))


def test_flush_is_due_by_size_and_commits_last_plus_one() -> None:
    sink = RecordingSink(max_rows=3)
    add(sink, 0, 10, event_id="a")
    add(sink, 1, 20, event_id="b")
    assert not sink.due()
    add(sink, 0, 11, event_id="c")
    assert sink.due()
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 12, ("t", 1): 21}
    assert result.written == {("t", 0): 2, ("t", 1): 1}
    assert [len(b.rows) for b in sink.written] == [2, 1]
    assert not sink.due()


def test_flush_is_due_by_age() -> None:
    sink = RecordingSink(max_rows=1000, max_age_s=0.0)
    assert not sink.due()
    add(sink, 0, 0)
    assert sink.due()


def test_a_batch_ages_from_when_its_first_record_entered_kafka_but_not_before_the_last_flush() -> (
    None
):
    """Rows that arrived while a flush ran do not wait its time on top of their age; rows read
    while catching up (long in Kafka) still wait the full age after the last flush began."""
    sink = RecordingSink(max_rows=1000, max_age_s=10.0)
    asyncio.run(sink.flush())
    time.sleep(1.0)
    now_ms = int(time.time() * 1000)
    sink.skip("t", 0, 0, entered_ms=now_ms - 500)  # entered 0.5 s after the flush began
    assert 9.2 < (sink.seconds_until_due() or 0) < 9.6  # not 10 (read now), nor 9 (the flush)
    sink.discard("t", 0)
    sink.add(make_event(), "t", 1, Source(0, b"k", b"v"), entered_ms=now_ms - 60_000)
    assert 8.7 < (sink.seconds_until_due() or 0) < 9.1  # catching up: from the flush
    sink.discard("t", 1)
    sink.add(make_event(), "t", 2, Source(0, b"k", b"v"))  # no timestamp: from now
    assert 9.7 < (sink.seconds_until_due() or 0) <= 10


def test_a_failed_partition_is_not_committed_and_the_batch_is_cleared() -> None:
    sink = RecordingSink()
    sink.broken = True
    add(sink, 0, 5, event_id="a")
    add(sink, 1, 7, event_id="b")
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 6}
    assert list(result.failed) == [("t", 1)]
    assert asyncio.run(sink.flush()).commit == {}


def test_skipped_records_are_committed_without_a_write() -> None:
    sink = RecordingSink()
    sink.skip("t", 0, 3)
    add(sink, 1, 8)
    sink.skip("t", 1, 9)
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 4, ("t", 1): 10}
    assert result.written == {("t", 0): 0, ("t", 1): 1}
    assert [(b.partition, len(b.rows)) for b in sink.written] == [(1, 1)]


def test_refused_rows_are_returned_and_the_rest_committed() -> None:
    sink = RecordingSink()
    add(sink, 0, 1, name="good")
    add(sink, 0, 2, name="bad")
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 3}
    assert result.written == {("t", 0): 1}
    assert [r.source.offset for r in result.rejected[("t", 0)]] == [2]


def test_a_batch_token_names_its_offset_range() -> None:
    assert Batch("t", 3, 10, 19).token == "t:3:10-19"


class OverlapSink(RecordingSink):
    """Each write waits until `width` writes are under way at once (a flush writing one batch
    after another never gets there and times out); partition 2's write has a bug."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.barrier = asyncio.Barrier(width)

    async def write(self, batch: Batch) -> list[RejectedRow]:
        await asyncio.wait_for(self.barrier.wait(), timeout=5)
        if batch.partition == 2:
            raise RuntimeError("a bug, not a failed write")
        return await super().write(batch)


def test_a_flush_writes_its_partitions_batches_at_once() -> None:
    sink = OverlapSink(width=2)
    add(sink, 0, 1)
    add(sink, 1, 4)
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 2, ("t", 1): 5}
    assert sorted(b.partition for b in sink.written) == [0, 1]


def test_a_bug_in_one_write_is_raised_once_the_others_are_written() -> None:
    sink = OverlapSink(width=3)
    for partition in (0, 1, 2):
        add(sink, partition, 1)
    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(sink.flush())
    assert sorted(b.partition for b in sink.written) == [0, 1]
    assert sink.pending() == []


def test_batches_with_rows_and_one_group_key_are_written_as_one_named_group() -> None:
    sink = GroupingSink()
    for partition, offset in ((0, 10), (0, 11), (1, 20), (2, 30), (4, 40)):
        add(sink, partition, offset)
    sink.skip("t", 6, 60)  # skipped records only: nothing to write, committed alone
    assert sink.plan() == [[("t", 1)], [("t", 6)], [("t", 0), ("t", 2), ("t", 4)]]
    result = asyncio.run(sink.flush())
    assert sink.groups == [("t:0:10-11,2:30-30,4:40-40", [0, 2, 4])]
    assert [b.partition for b in sink.written] == [1]
    assert result.commit == {("t", 0): 12, ("t", 1): 21, ("t", 2): 31, ("t", 4): 41, ("t", 6): 61}
    assert result.written == {("t", 0): 1, ("t", 1): 1, ("t", 2): 0, ("t", 4): 0, ("t", 6): 0}
    assert set(result.rejected) == {("t", 0), ("t", 2), ("t", 4)}


def test_a_group_that_fails_fails_for_every_partition_in_it() -> None:
    sink = GroupingSink()
    add(sink, 0, 10)
    add(sink, 2, 30)
    sink.broken = True
    result = asyncio.run(sink.flush())
    assert set(result.failed) == {("t", 0), ("t", 2)}
    assert result.commit == {}
    assert sink.pending() == []
