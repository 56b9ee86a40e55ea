"""The sink's checkpoint: offsets follow the store, so what is committed was written.

Exactly once in effect, with explicit offsets:
- Before a batch is written, its offset range is committed as metadata of the unchanged offset
  (`pending <first> <last>`); then the sink flushes, the rows the store refused are dead-lettered
  and acknowledged, and only then is `last + 1` committed. A sink killed in between finds the
  pending range when its partitions are (re)assigned and writes exactly that range again, so the
  store sees the same insert deduplication token and drops the repeat. Until the range is
  complete, nothing else writes that partition's batch: not another partition's flush, not a
  revoke, not a stop.
- A batch that failed is not committed: its partition is rewound to the last commit and the same
  range is written again after a back-off (a write that failed may still have landed), so nothing
  is lost while the store is down, and memory stays bounded because nothing new is read
  meanwhile.
- Records the processors repeated after a crash are skipped by the raw offset they name
  (`sinks/offsets.py`), with the marks committed alongside the offsets.
- Several partitions' batches written as one insert (a group) are pending, failed and written
  again as a whole, by whoever owns any of them (`sinks/groups.py`).

The consumer (`sinks/consumer.py`) polls and hands records over; the checkpoint decides what is
written when, and talks to Kafka only through the consumer's offset calls (`Offsets`).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from schemas.dead_letter import DeadLetterReason
from sinks.base import BatchingSink, FlushResult, Source
from sinks.groups import PendingGroup, Rebuild, plan_flush, rebuild_group
from sinks.metrics import SinkMetrics
from sinks.offsets import CommitMetadata, Marks, source_of
from sinks.settings import SinkSettings

__all__ = ["Checkpoint", "DeadLetterSender", "Offsets"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 30.0


class Offsets(Protocol):
    """The offset calls a checkpoint makes on its Kafka consumer (`AIOKafkaConsumer`'s own)."""

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None: ...

    async def committed(self, partition: TopicPartition) -> int | None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...


class DeadLetterSender(Protocol):
    """Sets a record aside and returns once Kafka acknowledged it (`sinks/dead_letters.py`)."""

    async def send(
        self, topic: str, partition: int, source: Source, reason: DeadLetterReason, detail: str
    ) -> None: ...


class _Positioned(Protocol):
    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=_Positioned)


class Checkpoint:
    """Flush the sink, acknowledge its dead letters, commit `last + 1`; rewind what failed."""

    def __init__(
        self,
        sink: BatchingSink,
        offsets: Offsets,
        dead_letters: DeadLetterSender,
        settings: SinkSettings,
        metrics: SinkMetrics,
        rebuild: Rebuild,
    ) -> None:
        """`offsets` are the consumer's own offset calls; `dead_letters` returns once a letter is
        acknowledged; `settings` give the back-off and the fault-injection pause; `rebuild`
        reads ranges of any partitions from Kafka by offset and adds their records to the sink
        as `feed`'s `add` does (for a group's ranges, this sink's or not)."""
        self._sink = sink
        self._offsets = offsets
        self._dead_letters = dead_letters
        self._rebuild = rebuild
        self._settings = settings
        self._metrics = metrics
        self._lock = asyncio.Lock()  # one write-and-commit at a time: flush, revoke or stop
        self._backoff_s = settings.retry_backoff_ms / 1000
        self._replays: dict[TopicPartition, int] = {}  # partition -> last offset of the range
        self._replay_complete = False  # a range being written again has all its records
        self._groups: dict[str, PendingGroup] = {}  # token -> a group to write again
        self._marks: dict[TopicPartition, Marks] = {}  # as of the records added so far
        self._committed_marks: dict[TopicPartition, Marks] = {}  # as of the committed offset
        self.healthy_store = True

    def assign(
        self, assigned: list[TopicPartition], committed: Mapping[TopicPartition, OffsetAndMetadata]
    ) -> None:
        """Take over the marks committed with each offset, and the ranges a previous owner wrote
        but did not commit, to write them again exactly."""
        for tp in assigned:
            self._marks[tp], self._committed_marks[tp] = {}, {}
        for tp, meta in committed.items():
            metadata = CommitMetadata.parse(meta.metadata)
            self._marks[tp] = dict(metadata.marks)
            self._committed_marks[tp] = dict(metadata.marks)
            if metadata.pending is None or metadata.pending[0] != meta.offset:
                continue
            if metadata.group:
                group = PendingGroup(tp.topic, metadata.group)
                self._groups.setdefault(group.token, group).owned.add(tp)
            else:
                self._replays[tp] = metadata.pending[1]

    def repeated(self, tp: TopicPartition, headers: Sequence[tuple[str, bytes]]) -> bool:
        """True for a record whose raw record already passed; else move the mark past it."""
        raw_partition, raw_offset = source_of(headers)
        if raw_partition < 0:
            return False
        marks = self._marks.setdefault(tp, {})
        if raw_offset <= marks.get(raw_partition, -1):
            return True
        marks[raw_partition] = raw_offset
        return False

    async def feed(
        self, tp: TopicPartition, records: Sequence[R], add: Callable[[R], Awaitable[None]]
    ) -> int:
        """Pass a partition's records to `add` and return how many. A range being written again
        (left pending by a killed sink, or a write that failed) must be batched exactly as it
        was, so its insert repeats the same deduplication token: once its last record is in, the
        rest is left to be read again after the flush. A partition whose group is to be written
        again takes nothing: the group's write moves it past the group's range."""
        if any(tp in group.owned for group in self._groups.values()):
            return 0
        last = self._replays.get(tp)
        for count, record in enumerate(records):
            if last is not None and record.offset > last:  # the range ended in skipped records
                self._end_replay(tp, record.offset)
                return count
            await add(record)
            if record.offset == last:
                self._end_replay(tp, record.offset + 1)
                return count + 1
        return len(records)

    def _end_replay(self, tp: TopicPartition, resume_at: int) -> None:
        log.warning("replaying a pending batch", extra={"tp": f"{tp.topic}[{tp.partition}]"})
        self._replays.pop(tp)
        self._replay_complete = True
        self._offsets.seek(tp, resume_at)

    def flush_due(self) -> bool:
        """A range being written again is complete, a group is to be written again, or the sink
        is due and no range is being read again."""
        due = self._sink.due() and not self._replays
        return self._replay_complete or bool(self._groups) or due

    async def flush(self) -> None:
        """Write and commit, then the groups to be written again; on a failed write, rewind
        that partition to write the same range again (a group: to write it again whole), and
        back off."""
        async with self._lock:
            self._replay_complete = False
            failed, failed_groups = await self._write_and_commit()
            for tp, last_offset in failed.items():
                await self._rewind(tp)
                self._replays[tp] = last_offset
            for group in failed_groups:
                for tp in sorted(group.owned):
                    await self._rewind(tp)
                self._groups[group.token] = group
            if not failed and not failed_groups and await self._write_groups():
                self._backoff_s = self._settings.retry_backoff_ms / 1000
                return
            await asyncio.sleep(self._backoff_s)
            self._backoff_s = min(_MAX_BACKOFF_S, self._backoff_s * 2)

    async def commit(self) -> None:
        """Write and commit what is complete, rewinding nothing (on stop: what failed is read
        again from the last commit on restart)."""
        async with self._lock:
            await self._write_and_commit()

    async def revoke(self, revoked: list[TopicPartition]) -> None:
        """Write what is complete; a range being written again is left to the next owner, who
        finds it pending at the last commit."""
        async with self._lock:
            await self._write_and_commit()
            for tp in revoked:
                if self._replays.pop(tp, None) is not None:
                    self._sink.discard(tp.topic, tp.partition)
                for group in self._groups.values():
                    group.owned.discard(tp)
            self._groups = {token: g for token, g in self._groups.items() if g.owned}

    async def _write_and_commit(self) -> tuple[dict[TopicPartition, int], list[PendingGroup]]:
        """Mark the ranges pending, flush the sink, dead-letter refused rows, commit what was
        written; return the last offset of each partition's range it could not write, and the
        groups it could not write.

        Partitions still reading a range to write again are left out."""
        ready = {
            tp: batch
            for batch in self._sink.pending()
            if (tp := TopicPartition(batch.topic, batch.partition)) not in self._replays
        }
        marks = {tp: dict(self._committed_marks.get(tp, {})) for tp in ready}
        plan = plan_flush(self._sink, ready, marks)
        started = time.perf_counter()
        if ready:
            await self._offsets.commit(plan.pending)
        result = await self._sink.flush(plan.units)
        await self._dead_letter_refused(result)
        if pause := self._settings.fault_pause_before_commit_ms:
            await asyncio.sleep(pause / 1000)
        if result.commit:
            await self._commit_written(result)
        if ready:
            self._metrics.flush_seconds.observe(time.perf_counter() - started)
        for (topic, partition), error in result.failed.items():
            self._metrics.inc(self._metrics.errors, topic, partition)
            log.warning("write failed; will retry", extra={"error": str(error)})
        self.healthy_store = not result.failed
        failed = [TopicPartition(t, p) for t, p in result.failed]
        singles = {tp: ready[tp].last_offset for tp in failed if tp not in plan.groups}
        return singles, plan.failed_groups(failed)

    async def _write_groups(self) -> bool:
        """Write again each group left pending; True once all are written. A group one of whose
        partitions is still reading a range of its own to write again waits for it."""
        for token, group in list(self._groups.items()):
            if any(tp in self._replays for tp in group.partitions):
                return False
            if not await self._write_group(group):
                return False
            del self._groups[token]
        return True

    async def _write_group(self, group: PendingGroup) -> bool:
        """Rebuild the group from Kafka, write it as one insert under its token, and move the
        partitions of it this sink owns past it."""
        log.warning("writing a pending group again", extra={"token": group.token})
        await rebuild_group(group, self._sink, self._marks, self._rebuild)
        result = await self._sink.flush([group.unit])
        await self._dead_letter_refused(result)
        if result.failed:
            self._marks |= {tp: dict(self._committed_marks.get(tp, {})) for tp in group.owned}
            self.healthy_store = False
            return False
        await self._commit_written(result, only=group.owned)
        for member, tp in zip(group.members, group.partitions, strict=True):
            if tp in group.owned:
                self._offsets.seek(tp, member.last + 1)
        return True

    async def _dead_letter_refused(self, result: FlushResult) -> None:
        for (topic, partition), rows in result.rejected.items():
            for row in rows:
                extra = {"offset": row.source.offset, "why": row.reason}
                log.warning("row refused by the store", extra=extra)
                await self._dead_letters.send(
                    topic, partition, row.source, "rejected_by_store", row.reason
                )

    async def _commit_written(
        self, result: FlushResult, only: set[TopicPartition] | None = None
    ) -> None:
        """Commit `last + 1` with the marks as of it (of `only` these partitions: the others of a
        group are another sink's), and count the rows written."""
        done = {TopicPartition(t, p): o for (t, p), o in result.commit.items()}
        done = {tp: offset for tp, offset in done.items() if only is None or tp in only}
        await self._offsets.commit(
            {
                tp: OffsetAndMetadata(offset, CommitMetadata(self._marks.get(tp, {})).encode())
                for tp, offset in done.items()
            }
        )
        for tp in done:
            self._committed_marks[tp] = dict(self._marks.get(tp, {}))
        for (topic, partition), rows in result.written.items():
            self._metrics.inc(self._metrics.events_sent, topic, partition, rows)

    async def _rewind(self, tp: TopicPartition) -> None:
        """Back to the last commit: its offset, and the marks as of it."""
        self._marks[tp] = dict(self._committed_marks.get(tp, {}))
        committed = await self._offsets.committed(tp)
        if committed is None:
            await self._offsets.seek_to_beginning(tp)
        else:
            self._offsets.seek(tp, committed)
