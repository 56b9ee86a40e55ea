"""Groups: several partitions' batches written as one insert, and how one left pending is rebuilt.

An insert costs ClickHouse about the same whatever its size, so the sink writes the events of all
the partitions a flush holds as one (`BatchingSink.group_key`). Each partition's pending commit
then names every range of the group with its marks (`sinks/offsets.py`), and the insert's token
names them all (`sinks.base.group_token`). Whoever finds any of them pending (after a crash, a
failed write, or a rebalance that split the group between sinks) rebuilds the whole group,
reading each range from Kafka by offset, and writes it under the same token: the first of those
writes to land carries every row, and the store drops the others as repeats. The checkpoint
(`sinks/checkpoint.py`) decides when; this module says what a group is and how it is rebuilt.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from sinks.base import Batch, BatchingSink, Unit, group_token
from sinks.offsets import CommitMetadata, GroupMember, Marks

__all__ = ["FlushPlan", "PendingGroup", "Rebuild", "plan_flush", "rebuild_group"]

# Kafka keeps at most offset.metadata.max.bytes (4,096 by default) of a commit's metadata: a
# group whose ranges and marks would not fit is written partition by partition instead.
_MAX_METADATA_CHARS = 3000

Rebuild = Callable[[list[tuple[TopicPartition, int, int]]], Awaitable[None]]
"""Reads ranges (partition, first, last) of any partitions from Kafka by offset and adds their
records to the sink (as the consumer's `add` does, with the checkpoint's marks)."""


@dataclass
class PendingGroup:
    """A group of ranges written as one insert. Left pending, it is written again, exactly,
    before the partitions of it this sink owns (`owned`) are read any further."""

    topic: str
    members: tuple[GroupMember, ...]
    owned: set[TopicPartition] = field(default_factory=set)

    @property
    def token(self) -> str:
        return group_token(self.topic, [(m.partition, m.first, m.last) for m in self.members])

    @property
    def partitions(self) -> list[TopicPartition]:
        return [TopicPartition(self.topic, member.partition) for member in self.members]

    @property
    def unit(self) -> Unit:
        return [(self.topic, member.partition) for member in self.members]


@dataclass(frozen=True)
class FlushPlan:
    """What a flush writes (`units`), the group each grouped partition is in, and the commits
    that name each range as pending before it is written."""

    units: list[Unit]
    groups: dict[TopicPartition, PendingGroup]
    pending: dict[TopicPartition, OffsetAndMetadata]

    def failed_groups(self, failed: list[TopicPartition]) -> list[PendingGroup]:
        return list(
            {self.groups[tp].token: self.groups[tp] for tp in failed if tp in self.groups}.values()
        )


def plan_flush(
    sink: BatchingSink, ready: Mapping[TopicPartition, Batch], marks: Mapping[TopicPartition, Marks]
) -> FlushPlan:
    """The sink's plan for these batches (`marks`: each partition's as of its batch's start); a
    group too large to name in a commit's metadata is split into its partitions."""
    units: list[Unit] = []
    groups: dict[TopicPartition, PendingGroup] = {}
    for unit in sink.plan([(tp.topic, tp.partition) for tp in ready]):
        tps = [TopicPartition(topic, partition) for topic, partition in unit]
        members = tuple(
            GroupMember(tp.partition, ready[tp].first_offset, ready[tp].last_offset, marks[tp])
            for tp in tps
        )
        if len(unit) == 1 or _too_large(members):
            units.extend([key] for key in unit)
            continue
        units.append(unit)
        groups.update(dict.fromkeys(tps, PendingGroup(tps[0].topic, members, set(tps))))
    pending = {tp: _pending(batch, marks[tp], groups.get(tp)) for tp, batch in ready.items()}
    return FlushPlan(units, groups, pending)


def _too_large(members: tuple[GroupMember, ...]) -> bool:
    return len(CommitMetadata({}, (0, 0), members).encode()) > _MAX_METADATA_CHARS


def _pending(batch: Batch, marks: Marks, group: PendingGroup | None) -> OffsetAndMetadata:
    """The commit that leaves the offset where it is and names the range about to be written
    (and the other ranges of its group), for whoever finds it after a crash."""
    span = (batch.first_offset, batch.last_offset)
    metadata = CommitMetadata(marks, span, group.members if group is not None else ())
    return OffsetAndMetadata(batch.first_offset, metadata.encode())


async def rebuild_group(
    group: PendingGroup, sink: BatchingSink, marks: dict[TopicPartition, Marks], rebuild: Rebuild
) -> None:
    """Read the group's ranges again into the sink's batches, each filtered by the marks as of
    its start. Afterwards `marks` holds the owned partitions' marks as of their ranges' ends; a
    partition of the group this sink does not own, or reads on its own (its range was written
    and committed), keeps the marks it had."""
    others = [tp for tp in group.partitions if tp not in group.owned]
    kept = {tp: marks.pop(tp) for tp in others if tp in marks}
    ranges = []
    for member, tp in zip(group.members, group.partitions, strict=True):
        marks[tp] = dict(member.marks)
        ranges.append((tp, member.first, member.last))
    await rebuild(ranges)
    for tp in others:
        marks.pop(tp, None)
    marks.update(kept)
    rebuilt = {(b.partition, b.first_offset, b.last_offset) for b in sink.pending()}
    if not {(m.partition, m.first, m.last) for m in group.members} <= rebuilt:
        raise RuntimeError(f"the ranges of {group.token} could not all be read again")
