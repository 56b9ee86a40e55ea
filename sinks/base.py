"""The batching base every sink builds on: `add` rows, `flush` them, commit what was written.

Rows are batched per (topic, partition). A flush writes each batch and clears it whatever
happens; it returns the offsets to commit (`last + 1`) for the batches that were written and
reports the partitions whose write failed, so the caller can rewind them and read them again.
"""

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from schemas.event import Event
from sinks.errors import SinkWriteFailed

__all__ = ["Batch", "BatchingSink", "FlushResult"]

TopicPartition = tuple[str, int]


@dataclass
class Batch:
    topic: str
    partition: int
    first_offset: int
    last_offset: int = -1
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class FlushResult:
    """Offsets to commit and rows written, per partition written; errors per partition not."""

    commit: dict[TopicPartition, int]
    written: dict[TopicPartition, int]
    failed: dict[TopicPartition, SinkWriteFailed]


class BatchingSink(ABC):
    """Collects events per partition; `due()` says when size or age calls for a flush."""

    def __init__(self, max_rows: int, max_age_s: float) -> None:
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._batches: dict[TopicPartition, Batch] = {}
        self._rows = 0
        self._oldest: float | None = None

    async def setup(self) -> None:  # noqa: B027 - an optional hook, like close()
        """Open clients; called once before the first `add`."""

    async def close(self) -> None:  # noqa: B027
        """Release clients; safe to call twice."""

    @abstractmethod
    async def write(self, batch: Batch) -> None:
        """Write one partition's batch, or raise SinkWriteFailed."""

    def add(self, event: Event, topic: str, partition: int, offset: int) -> None:
        self._batch(topic, partition, offset).events.append(event)
        self._rows += 1

    def skip(self, topic: str, partition: int, offset: int) -> None:
        """Count a record handled without a row (e.g. dead-lettered) toward the next commit."""
        self._batch(topic, partition, offset)

    def _batch(self, topic: str, partition: int, offset: int) -> Batch:
        batch = self._batches.get((topic, partition))
        if batch is None:
            batch = self._batches[topic, partition] = Batch(topic, partition, offset)
        batch.last_offset = offset
        if self._oldest is None:
            self._oldest = time.monotonic()
        return batch

    def due(self) -> bool:
        if self._oldest is None:
            return False
        return self._rows >= self._max_rows or time.monotonic() - self._oldest >= self._max_age_s

    def seconds_until_due(self) -> float | None:
        if self._oldest is None:
            return None
        return max(0.0, self._max_age_s - (time.monotonic() - self._oldest))

    async def flush(self) -> FlushResult:
        commit: dict[TopicPartition, int] = {}
        written: dict[TopicPartition, int] = {}
        failed: dict[TopicPartition, SinkWriteFailed] = {}
        try:
            for key, batch in self._batches.items():
                try:
                    if batch.events:
                        await self.write(batch)
                except SinkWriteFailed as exc:
                    failed[key] = exc
                else:
                    commit[key] = batch.last_offset + 1
                    written[key] = len(batch.events)
        finally:
            self._batches.clear()
            self._rows = 0
            self._oldest = None
        return FlushResult(commit, written, failed)
