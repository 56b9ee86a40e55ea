"""The checkpoint's bookkeeping without Kafka (`checkpoint_harness.py`): a range is named, then
written, then committed; failures rewind; assignment takes over marks and pending ranges."""

import pytest
from aiokafka.structs import OffsetAndMetadata

from sinks.metrics import SinkMetrics
from tests.sinks.checkpoint_harness import P0, P1, Harness, Record, records, run


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
