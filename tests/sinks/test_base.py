"""The batching base: flush by size or age, commit `last + 1`, failures not committed."""

import asyncio

from sinks.base import Batch, BatchingSink
from sinks.errors import SinkWriteFailed
from tests.factories import make_event


class RecordingSink(BatchingSink):
    """A sink whose store is a list; partition 1 fails when `broken` is set."""

    def __init__(self, max_rows: int = 3, max_age_s: float = 60.0) -> None:
        super().__init__(max_rows, max_age_s)
        self.written: list[Batch] = []
        self.broken = False

    async def write(self, batch: Batch) -> None:
        if self.broken and batch.partition == 1:
            raise SinkWriteFailed("partition 1 is down")
        self.written.append(batch)


def test_flush_is_due_by_size_and_commits_last_plus_one() -> None:
    sink = RecordingSink(max_rows=3)
    sink.add(make_event(event_id="a"), "t", 0, 10)
    sink.add(make_event(event_id="b"), "t", 1, 20)
    assert not sink.due()
    sink.add(make_event(event_id="c"), "t", 0, 11)
    assert sink.due()
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 12, ("t", 1): 21}
    assert result.written == {("t", 0): 2, ("t", 1): 1}
    assert [len(b.events) for b in sink.written] == [2, 1]
    assert not sink.due()


def test_flush_is_due_by_age() -> None:
    sink = RecordingSink(max_rows=1000, max_age_s=0.0)
    assert not sink.due()
    sink.add(make_event(), "t", 0, 0)
    assert sink.due()


def test_a_failed_partition_is_not_committed_and_the_batch_is_cleared() -> None:
    sink = RecordingSink()
    sink.broken = True
    sink.add(make_event(event_id="a"), "t", 0, 5)
    sink.add(make_event(event_id="b"), "t", 1, 7)
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 6}
    assert list(result.failed) == [("t", 1)]
    assert asyncio.run(sink.flush()).commit == {}


def test_skipped_records_are_committed_without_a_write() -> None:
    sink = RecordingSink()
    sink.skip("t", 0, 3)
    sink.add(make_event(), "t", 1, 8)
    sink.skip("t", 1, 9)
    result = asyncio.run(sink.flush())
    assert result.commit == {("t", 0): 4, ("t", 1): 10}
    assert result.written == {("t", 0): 0, ("t", 1): 1}
    assert [(b.partition, len(b.events)) for b in sink.written] == [(1, 1)]
