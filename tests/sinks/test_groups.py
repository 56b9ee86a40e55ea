"""A group, the batches of several partitions written as one insert, in the checkpoint without
Kafka (`checkpoint_harness.py`): named whole in each pending commit, and written again whole,
under its token, by whoever finds it pending."""

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from sinks.offsets import CommitMetadata
from tests.sinks.checkpoint_harness import P0, P1, Harness, Record, records, run

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
