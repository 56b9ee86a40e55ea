"""Feeds a sink from the events topic and commits offsets only after the sink wrote them.

At least once, with explicit offsets: a batch that failed is not committed; its partition is
rewound to the last committed offset and read again after a back-off, so nothing is lost while the
store is down, and memory stays bounded because nothing new is read meanwhile.
"""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from headwater.settings import KafkaSettings
from headwater.tasks import cancel_and_wait
from headwater.telemetry import ComponentMetrics
from schemas import topics
from schemas.dead_letter import DeadLetter, reason_for
from schemas.event import decode
from sinks.base import BatchingSink
from sinks.settings import SinkSettings

__all__ = ["SinkConsumer"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 30.0


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
        self._task: asyncio.Task[None] | None = None
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
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=self._settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._settings.batch_max_rows,
        )
        self._consumer.subscribe([topics.EVENTS], listener=_FlushOnRevoke(self))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="sink-consumer")

    async def stop(self) -> None:
        """Stop reading, write what is batched, commit it, close. Safe to call twice."""
        await cancel_and_wait(self._task)
        self._task = None
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
            if self._dead_letters is not None:
                producer, self._dead_letters = self._dead_letters, None
                await producer.stop()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    async def _run(self) -> None:
        consumer = self._require_consumer()
        while True:
            wait = self._sink.seconds_until_due()
            timeout_ms = 200 if wait is None else max(1, min(200, int(wait * 1000)))
            records = await consumer.getmany(timeout_ms=timeout_ms)
            for tp, messages in records.items():
                for message in messages:
                    await self._add(message)
                self._metrics.inc(
                    self._metrics.events_received, tp.topic, tp.partition, len(messages)
                )
            if self._sink.due():
                await self.flush()

    async def _add(self, message: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = decode(message.value or b"")
        except ValidationError as exc:
            await self._dead_letter(message, exc)
            return
        self._sink.add(event, message.topic, message.partition, message.offset)

    async def _dead_letter(
        self, message: ConsumerRecord[bytes, bytes], exc: ValidationError
    ) -> None:
        letter = DeadLetter.of_record(
            reason_for(exc),
            str(exc),
            "sink",
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
        )
        producer = self._dead_letters
        assert producer is not None, "started in start()"
        await producer.send_and_wait(topics.DEAD_LETTER, letter.encode(), key=message.key)
        self._sink.skip(message.topic, message.partition, message.offset)
        self._metrics.inc(self._metrics.events_dropped, message.topic, message.partition)

    async def flush(self) -> None:
        """Write and commit; on a failed write, rewind that partition and back off."""
        async with self._flush_lock:
            failed = await self._write_and_commit()
            if not failed:
                self._backoff_s = self._settings.retry_backoff_ms / 1000
                return
            for tp in failed:
                await self._rewind(tp)
            await asyncio.sleep(self._backoff_s)
            self._backoff_s = min(_MAX_BACKOFF_S, self._backoff_s * 2)

    async def write_before_revoke(self) -> None:
        async with self._flush_lock:
            await self._write_and_commit()

    async def _write_and_commit(self) -> list[TopicPartition]:
        """Flush the sink, commit what it wrote; return the partitions it could not write."""
        result = await self._sink.flush()
        if result.commit:
            await self._require_consumer().commit(
                {TopicPartition(t, p): o for (t, p), o in result.commit.items()}
            )
            for (topic, partition), rows in result.written.items():
                self._metrics.inc(self._metrics.events_sent, topic, partition, rows)
        for (topic, partition), error in result.failed.items():
            self._metrics.inc(self._metrics.errors, topic, partition)
            log.warning("write failed; will retry", extra={"error": str(error)})
        self.healthy_store = not result.failed
        return [TopicPartition(t, p) for t, p in result.failed]

    async def _rewind(self, tp: TopicPartition) -> None:
        consumer = self._require_consumer()
        committed = await consumer.committed(tp)
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("SinkConsumer is not started")
        return self._consumer


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Write and commit what is batched before another sink takes the partitions over.

    No rewind or back-off here: a batch that fails now is dropped from memory, and the new owner
    of its partition reads it again from the last commit.
    """

    def __init__(self, owner: SinkConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            await self._owner.write_before_revoke()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
