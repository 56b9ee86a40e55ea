"""Feeds a sink from its topics and commits offsets only after the sink wrote them.

Exactly once in effect, with explicit offsets:
- Before a batch is written, its offset range is committed as metadata of the unchanged offset
  (`pending <first> <last>`); after the write, `last + 1` is committed. A sink killed in between
  finds the pending range when its partitions are (re)assigned and writes exactly that range
  again, so the store sees the same insert deduplication token and drops the repeat. Until the
  range is complete, nothing else writes that partition's batch: not another partition's flush,
  not a revoke, not a stop.
- A batch that failed is not committed: its partition is rewound to the last commit and the same
  range is written again after a back-off (a write that failed may still have landed), so nothing
  is lost while the store is down, and memory stays bounded because nothing new is read
  meanwhile.
- Rows the store refuses are dead-lettered before the commit that passes them.
- Records the processors repeated after a crash are skipped by the raw offset they name
  (`sinks/offsets.py`), with the marks committed alongside the offsets.
"""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from pydantic import ValidationError

from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.dead_letter import DeadLetter, DeadLetterReason, reason_for
from sinks.base import Batch, BatchingSink, FlushResult, RejectedRow, Source
from sinks.offsets import CommitMetadata, Marks, source_of
from sinks.settings import SinkSettings

__all__ = ["SinkConsumer"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 30.0
SINK_TOPICS = (topics.EVENTS, topics.ENTRIES, topics.BOTS)


class SinkConsumer:
    """The sink's Kafka side: poll, add, flush when due, commit `last + 1`."""

    def __init__(
        self,
        sink: BatchingSink,
        kafka: KafkaSettings,
        settings: SinkSettings,
        metrics: ComponentMetrics,
    ) -> None:
        self._sink = sink
        self._kafka = kafka
        self._settings = settings
        self._metrics = metrics
        self._flush_lock = asyncio.Lock()
        self._backoff_s = settings.retry_backoff_ms / 1000
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._task = BackgroundTask(self._run, "sink-consumer")
        self._replays: dict[TopicPartition, int] = {}  # partition -> last offset of the range
        self._marks: dict[TopicPartition, Marks] = {}  # as of the records added so far
        self._committed_marks: dict[TopicPartition, Marks] = {}  # as of the committed offset
        self.healthy_store = True

    async def start(self) -> None:
        """Connect and start consuming; on failure, close whatever had opened."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self._dead_letters = AIOKafkaProducer(
            bootstrap_servers=self._kafka.bootstrap_servers, acks="all", enable_idempotence=True
        )
        await self._dead_letters.start()
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._kafka.bootstrap_servers)
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=self._settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._settings.batch_max_rows,
        )
        self._consumer.subscribe(list(SINK_TOPICS), listener=_Rebalance(self))
        await self._consumer.start()
        await self._task.start()

    async def stop(self) -> None:
        """Stop reading, write what is batched, commit it, close. Safe to call twice."""
        await self._task.stop()
        try:
            if self._consumer is not None:
                try:
                    async with self._flush_lock:
                        await self._write_and_commit()
                except KafkaError as exc:  # not committed: read and written again on restart
                    log.warning("final commit failed", extra={"error": repr(exc)})
                finally:
                    consumer, self._consumer = self._consumer, None
                    await consumer.stop()
        finally:
            if self._admin is not None:
                admin, self._admin = self._admin, None
                await admin.close()
            if self._dead_letters is not None:
                producer, self._dead_letters = self._dead_letters, None
                await producer.stop()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task.task

    async def _run(self) -> None:
        consumer = self._require_consumer()
        while True:
            wait = self._sink.seconds_until_due()
            timeout_ms = 200 if wait is None else max(1, min(200, int(wait * 1000)))
            records = await consumer.getmany(timeout_ms=timeout_ms)
            replay_ended = False
            for tp, messages in records.items():
                was_replaying = tp in self._replays
                added = await self._add_respecting_replay(consumer, tp, messages)
                replay_ended |= was_replaying and tp not in self._replays
                self._metrics.inc(self._metrics.events_received, tp.topic, tp.partition, added)
            if replay_ended or (self._sink.due() and not self._replays):
                await self.flush()

    async def _add_respecting_replay(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        messages: list[ConsumerRecord[bytes, bytes]],
    ) -> int:
        """Add a partition's records and return how many. A range being written again (left
        pending by a killed sink, or a write that failed) must be batched exactly as it was, so
        its insert repeats the same deduplication token: once its last record is in, the rest
        is left to be read again after the flush."""
        last = self._replays.get(tp)
        for count, message in enumerate(messages):
            if last is not None and message.offset > last:  # the range ended in skipped records
                self._end_replay(consumer, tp, message.offset)
                return count
            await self._add(message)
            if message.offset == last:
                self._end_replay(consumer, tp, message.offset + 1)
                return count + 1
        return len(messages)

    def _end_replay(self, consumer: AIOKafkaConsumer, tp: TopicPartition, resume_at: int) -> None:
        log.warning("replaying a pending batch", extra={"tp": f"{tp.topic}[{tp.partition}]"})
        self._replays.pop(tp)
        consumer.seek(tp, resume_at)

    async def _add(self, message: ConsumerRecord[bytes, bytes]) -> None:
        if self._repeated(message):
            self._sink.skip(message.topic, message.partition, message.offset)
            self._metrics.inc(self._metrics.duplicates, message.topic, message.partition)
            self._metrics.inc(self._metrics.events_dropped, message.topic, message.partition)
            return
        source = Source(message.offset, message.key, message.value)
        try:
            row = self._sink.decode(message.topic, source)
        except ValueError as exc:
            reason = reason_for(exc) if isinstance(exc, ValidationError) else "invalid_record"
            await self._dead_letter(message.topic, message.partition, source, reason, str(exc))
            self._sink.skip(message.topic, message.partition, message.offset)
            return
        self._sink.add(row, message.topic, message.partition, source)

    def _repeated(self, message: ConsumerRecord[bytes, bytes]) -> bool:
        """True for a record whose raw record already passed; else move the mark past it."""
        raw_partition, raw_offset = source_of(message.headers)
        if raw_partition < 0:
            return False
        marks = self._marks.setdefault(TopicPartition(message.topic, message.partition), {})
        if raw_offset <= marks.get(raw_partition, -1):
            return True
        marks[raw_partition] = raw_offset
        return False

    async def _dead_letter(
        self, topic: str, partition: int, source: Source, reason: DeadLetterReason, detail: str
    ) -> None:
        letter = DeadLetter.of_record(
            reason, detail, "sink", topic, partition, source.offset, source.key, source.value
        )
        producer = self._dead_letters
        assert producer is not None, "started in start()"
        await producer.send_and_wait(topics.DEAD_LETTER, letter.encode(), key=source.key)
        self._metrics.inc(self._metrics.events_dropped, topic, partition)

    async def flush(self) -> None:
        """Write and commit; on a failed write, rewind that partition to write the same range
        again, and back off."""
        async with self._flush_lock:
            failed = await self._write_and_commit()
            if not failed:
                self._backoff_s = self._settings.retry_backoff_ms / 1000
                return
            for tp, last_offset in failed.items():
                await self._rewind(tp)
                self._replays[tp] = last_offset
            await asyncio.sleep(self._backoff_s)
            self._backoff_s = min(_MAX_BACKOFF_S, self._backoff_s * 2)

    async def write_before_revoke(self, revoked: list[TopicPartition]) -> None:
        """Write what is complete; a range being written again is left to the next owner, who
        finds it pending at the last commit."""
        async with self._flush_lock:
            await self._write_and_commit()
            for tp in revoked:
                if self._replays.pop(tp, None) is not None:
                    self._sink.discard(tp.topic, tp.partition)

    async def _write_and_commit(self) -> dict[TopicPartition, int]:
        """Mark the ranges pending, flush the sink, dead-letter refused rows, commit what was
        written; return the last offset of each partition's range it could not write.

        Partitions still reading a range to write again are left out."""
        consumer = self._require_consumer()
        ready = {
            tp: batch
            for batch in self._sink.pending()
            if (tp := TopicPartition(batch.topic, batch.partition)) not in self._replays
        }
        if ready:
            await consumer.commit({tp: self._marked_pending(tp, b) for tp, b in ready.items()})
        result = await self._sink.flush([(tp.topic, tp.partition) for tp in ready])
        await self._dead_letter_refused(result)
        if pause := self._settings.fault_pause_before_commit_ms:
            await asyncio.sleep(pause / 1000)
        if result.commit:
            done = {TopicPartition(t, p): o for (t, p), o in result.commit.items()}
            await consumer.commit(
                {
                    tp: OffsetAndMetadata(offset, CommitMetadata(self._marks.get(tp, {})).encode())
                    for tp, offset in done.items()
                }
            )
            for tp in done:
                self._committed_marks[tp] = dict(self._marks.get(tp, {}))
            for (topic, partition), rows in result.written.items():
                self._metrics.inc(self._metrics.events_sent, topic, partition, rows)
        for (topic, partition), error in result.failed.items():
            self._metrics.inc(self._metrics.errors, topic, partition)
            log.warning("write failed; will retry", extra={"error": str(error)})
        self.healthy_store = not result.failed
        return {
            TopicPartition(t, p): ready[TopicPartition(t, p)].last_offset for t, p in result.failed
        }

    def _marked_pending(self, tp: TopicPartition, batch: Batch) -> OffsetAndMetadata:
        """The commit that leaves the offset where it is and names the range about to be
        written, for whoever finds it after a crash."""
        span = (batch.first_offset, batch.last_offset)
        metadata = CommitMetadata(self._committed_marks.get(tp, {}), span)
        return OffsetAndMetadata(batch.first_offset, metadata.encode())

    async def _dead_letter_refused(self, result: FlushResult) -> None:
        for (topic, partition), rows in result.rejected.items():
            for row in rows:
                await self._refused(topic, partition, row)

    async def _refused(self, topic: str, partition: int, row: RejectedRow) -> None:
        log.warning(
            "row refused by the store", extra={"offset": row.source.offset, "why": row.reason}
        )
        await self._dead_letter(topic, partition, row.source, "rejected_by_store", row.reason)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Take over the marks committed with each offset, and find ranges a previous owner wrote
        but did not commit, to write them again exactly."""
        admin = self._admin
        if admin is None or not assigned:
            return
        committed = await admin.list_consumer_group_offsets(
            self._settings.group_id, partitions=assigned
        )
        for tp in assigned:
            self._marks[tp], self._committed_marks[tp] = {}, {}
        for tp, meta in committed.items():
            metadata = CommitMetadata.parse(meta.metadata)
            self._marks[tp] = dict(metadata.marks)
            self._committed_marks[tp] = dict(metadata.marks)
            if metadata.pending is not None and metadata.pending[0] == meta.offset:
                self._replays[tp] = metadata.pending[1]

    async def _rewind(self, tp: TopicPartition) -> None:
        consumer = self._require_consumer()
        self._marks[tp] = dict(self._committed_marks.get(tp, {}))
        committed = await consumer.committed(tp)
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("SinkConsumer is not started")
        return self._consumer


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Write and commit what is batched before another sink takes the partitions over; on
    assignment, look for ranges a killed owner left pending.

    No rewind or back-off on revoke: a batch that fails now is dropped from memory, and the new
    owner of its partition reads it again from the last commit.
    """

    def __init__(self, owner: SinkConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            await self._owner.write_before_revoke(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._owner.on_assigned(list(assigned))
