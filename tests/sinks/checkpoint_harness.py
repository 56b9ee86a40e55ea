"""The checkpoint's collaborators as plain in-memory objects that record what was asked of them
(the consumer's offset calls, the dead-letter topic, the store, the reading of a range by
offset), for the checkpoint's tests without Kafka."""

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from aiokafka.structs import OffsetAndMetadata, TopicPartition

from schemas.dead_letter import DeadLetterReason
from schemas.topics import SOURCE_HEADER
from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.checkpoint import Checkpoint
from sinks.errors import SinkWriteFailed
from sinks.metrics import SinkMetrics
from sinks.settings import SinkSettings

__all__ = ["P0", "P1", "Harness", "Record", "records", "run"]

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

    async def rebuild(self, ranges: list[tuple[TopicPartition, int, int]]) -> None:
        for tp, first, last in ranges:
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
