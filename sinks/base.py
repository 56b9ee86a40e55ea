"""The batching base every sink builds on: `add` rows, `flush` them, commit what was written.

Rows are batched per (topic, partition), each with the record it came from. A flush writes its
*units* at once, each a partition's batch alone or a group of batches the sink writes as one
insert (`group_key`), and forgets them whatever happens; it returns the offsets to commit
(`last + 1`) for the batches that were written, the rows the store refused (to be dead-lettered
before that commit), and the partitions whose write failed (all of a group's together), so the
caller can rewind them and read them again.
"""

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Hashable
from dataclasses import dataclass, field
from typing import Any

from runtime.tasks import Lifecycle
from sinks.errors import SinkWriteFailed

__all__ = ["Batch", "BatchingSink", "FlushResult", "RejectedRow", "Source", "group_token"]

TopicPartition = tuple[str, int]
Unit = list[TopicPartition]  # batches written as one insert: one partition's, or a group's


@dataclass(frozen=True, slots=True)
class Source:
    """Where a row came from: enough to dead-letter it if the store refuses it."""

    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class RejectedRow:
    source: Source
    reason: str


@dataclass
class Batch:
    topic: str
    partition: int
    first_offset: int
    last_offset: int = -1
    rows: list[Any] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    opened_at: float = field(default_factory=time.monotonic)

    @property
    def token(self) -> str:
        """Names this exact offset range: the same range re-read after a crash gets the same
        token, which is what lets the store drop the repeated insert."""
        return group_token(self.topic, [(self.partition, self.first_offset, self.last_offset)])


def group_token(topic: str, ranges: list[tuple[int, int, int]]) -> str:
    """Names the exact offset ranges (partition, first, last) of a group written as one insert:
    rebuilt from the same ranges after a crash, by whichever sink, it is the same token."""
    spans = ",".join(f"{partition}:{first}-{last}" for partition, first, last in sorted(ranges))
    return f"{topic}:{spans}"


@dataclass(frozen=True)
class FlushResult:
    """Per partition: offsets to commit, rows written and rows refused; errors of those not
    written."""

    commit: dict[TopicPartition, int]
    written: dict[TopicPartition, int]
    rejected: dict[TopicPartition, list[RejectedRow]]
    failed: dict[TopicPartition, SinkWriteFailed]


class BatchingSink(ABC, Lifecycle):
    """Collects rows per partition; `due()` says when size or age calls for a flush."""

    def __init__(self, max_rows: int, max_age_s: float) -> None:
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._batches: dict[TopicPartition, Batch] = {}
        self._rows = 0
        self._flush_began = time.monotonic()

    async def start(self) -> None:
        """Open clients; called once before the first `add`."""

    async def stop(self) -> None:
        """Release clients; safe to call twice."""

    @abstractmethod
    def decode(self, topic: str, source: Source) -> Any:
        """The row a record becomes; raises ValueError (pydantic's ValidationError is one) for a
        record that cannot become one."""

    @abstractmethod
    async def write(self, batch: Batch) -> list[RejectedRow]:
        """Write one partition's batch and return the rows the store refused (the others are
        written), or raise SinkWriteFailed when nothing could be written."""

    def group_key(self, batch: Batch) -> Hashable | None:
        """Batches of one topic with the same key are written together by `write_group`; None
        (the default): each batch is its own insert."""
        return None

    async def write_group(self, batches: list[Batch], token: str) -> list[list[RejectedRow]]:
        """Write the batches as one insert named `token` and return each batch's refused rows;
        raise SinkWriteFailed when the group could not be written. Only for batches that
        `group_key` put together."""
        raise NotImplementedError(f"{type(self).__name__} groups no batches")

    def add(
        self, row: Any, topic: str, partition: int, source: Source, entered_ms: int | None = None
    ) -> None:
        """`entered_ms`: when the record entered Kafka (its timestamp), where the batch's age
        starts (`_opened_at`)."""
        batch = self._batch(topic, partition, source.offset, entered_ms)
        batch.rows.append(row)
        batch.sources.append(source)
        self._rows += 1

    def skip(self, topic: str, partition: int, offset: int, entered_ms: int | None = None) -> None:
        """Count a record handled without a row (e.g. dead-lettered) toward the next commit."""
        self._batch(topic, partition, offset, entered_ms)

    def discard(self, topic: str, partition: int) -> None:
        """Forget a partition's batch unwritten: its records are read again from the commit."""
        batch = self._batches.pop((topic, partition), None)
        if batch is not None:
            self._rows -= len(batch.rows)

    def _batch(self, topic: str, partition: int, offset: int, entered_ms: int | None) -> Batch:
        batch = self._batches.get((topic, partition))
        if batch is None:
            opened_at = self._opened_at(entered_ms)
            batch = self._batches[topic, partition] = Batch(
                topic, partition, offset, opened_at=opened_at
            )
        batch.last_offset = offset
        return batch

    def _opened_at(self, entered_ms: int | None) -> float:
        """Where a batch's age starts: when its first record entered Kafka, so rows that arrived
        while the last flush ran do not wait that flush's time on top of their age; but not
        before the last flush began, so a sink catching up still fills batches for the full age
        (and a clock behind or ahead of the producer's moves nothing by more than that)."""
        now = time.monotonic()
        if entered_ms is None:
            return now
        entered = now - max(0.0, time.time() - entered_ms / 1000)
        return max(entered, self._flush_began)

    def pending(self) -> list[Batch]:
        """The batches not written yet."""
        return list(self._batches.values())

    def due(self) -> bool:
        wait = self.seconds_until_due()
        return wait is not None and (self._rows >= self._max_rows or wait == 0)

    def seconds_until_due(self) -> float | None:
        if not self._batches:
            return None
        oldest = min(batch.opened_at for batch in self._batches.values())
        return max(0.0, self._max_age_s - (time.monotonic() - oldest))

    def plan(self, only: Collection[TopicPartition] | None = None) -> list[Unit]:
        """The units a flush of `only` these partitions (default: every batch) writes: batches
        with rows and the same `group_key` together, every other batch alone."""
        units: list[Unit] = []
        groups: dict[tuple[str, Hashable], Unit] = {}
        for key, batch in self._batches.items():
            if only is not None and key not in only:
                continue
            group = self.group_key(batch) if batch.rows else None
            if group is None:
                units.append([key])
            else:
                groups.setdefault((batch.topic, group), []).append(key)
        return units + [sorted(unit) for unit in groups.values()]

    async def flush(self, units: list[Unit] | None = None) -> FlushResult:
        """Write the units (default: `plan()`), all at once, and forget their batches: a flush
        takes as long as its slowest unit."""
        self._flush_began = time.monotonic()
        units = self.plan() if units is None else units
        batches = [[self._batches[key] for key in unit] for unit in units]
        try:
            writes = (_write_unit(self, unit) for unit in batches)
            outcomes = await asyncio.gather(*writes, return_exceptions=True)
        finally:
            for unit in units:
                for topic, partition in unit:
                    self.discard(topic, partition)
        result = FlushResult({}, {}, {}, {})
        for unit, unit_batches, outcome in zip(units, batches, outcomes, strict=True):
            if isinstance(outcome, SinkWriteFailed):
                result.failed.update(dict.fromkeys(unit, outcome))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                for key, batch, refused in zip(unit, unit_batches, outcome, strict=True):
                    result.commit[key] = batch.last_offset + 1
                    result.written[key] = len(batch.rows) - len(refused)
                    if refused:
                        result.rejected[key] = refused
        return result


async def _write_unit(sink: BatchingSink, batches: list[Batch]) -> list[list[RejectedRow]]:
    """Each batch's refused rows: a group as one `write_group`, a batch alone through `write`
    (nothing refused for a batch of skipped records only). A function rather than a method, so
    no sink's own helper of the same name can stand in for `write`."""
    if len(batches) > 1:
        ranges = [(b.partition, b.first_offset, b.last_offset) for b in batches]
        return await sink.write_group(batches, group_token(batches[0].topic, ranges))
    return [await sink.write(batches[0]) if batches[0].rows else []]
