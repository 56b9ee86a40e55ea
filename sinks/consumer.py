"""Feeds a sink from its topics; its checkpoint (`sinks/checkpoint.py`) decides what is committed.

The consumer owns the Kafka side: it polls the sink's topics, turns each record into a row (or
skips it as a repeat, or dead-letters it when it cannot become one), asks the checkpoint to flush
when the sink is due, and hands rebalances to it: write and commit before a partition is taken
away, take over marks and pending ranges when one is assigned. Workflow changes are decided by
the sink's replica of their topic before they become rows (`sinks/workflows.py`). An entries
record counts only under its entry's own key on that key's rule partition (`runtime.partitioning`),
as in the processors: one a producer put elsewhere or keyed otherwise is skipped, and its copy,
which the processors send there, becomes the row (so a later deletion there wins).
"""

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from runtime.partitioning import rule_partition
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask, Lifecycle
from schemas import topics
from schemas.dead_letter import reason_for
from schemas.entry import keyed_as_its_entry
from sinks.base import BatchingSink, Source
from sinks.checkpoint import Checkpoint
from sinks.dead_letters import DeadLetters
from sinks.metrics import SinkMetrics
from sinks.settings import SinkSettings
from sinks.workflows import WorkflowReplay

__all__ = ["SINK_TOPICS", "SinkConsumer"]

log = logging.getLogger(__name__)

SINK_TOPICS = (
    topics.EVENTS, topics.ENTRIES, topics.BOTS, topics.WORKFLOWS, topics.WORKFLOW_COMMANDS,
    topics.WORKFLOW_HISTORY,
)  # fmt: skip


class SinkConsumer(Lifecycle):
    """The sink's Kafka side: poll, add, flush when due through the checkpoint."""

    def __init__(
        self,
        sink: BatchingSink,
        kafka: KafkaSettings,
        settings: SinkSettings,
        metrics: SinkMetrics,
    ) -> None:
        self._sink = sink
        self._kafka = kafka
        self._settings = settings
        self._metrics = metrics
        self._dead_letters = DeadLetters(kafka, metrics)
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._checkpoint: Checkpoint | None = None
        self._workflows = WorkflowReplay()
        self._task = BackgroundTask(self._run, "sink-consumer")

    @property
    def healthy_store(self) -> bool:
        """The last write went through (true until one failed)."""
        return self._checkpoint is None or self._checkpoint.healthy_store

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task.task

    async def start(self) -> None:
        """Connect and start consuming; on failure, close whatever had opened."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
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
            session_timeout_ms=self._kafka.session_timeout_ms,
            heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
            rebalance_timeout_ms=self._kafka.rebalance_timeout_ms,
        )
        self._checkpoint = Checkpoint(
            self._sink,
            self._consumer,
            self._dead_letters,
            self._settings,
            self._metrics,
            self._rebuild,
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
                    await self._require_checkpoint().commit()
                except KafkaError as exc:  # not committed: read and written again on restart
                    log.warning("final commit failed", extra={"error": repr(exc)})
                finally:
                    consumer, self._consumer = self._consumer, None
                    await consumer.stop()
        finally:
            if self._admin is not None:
                admin, self._admin = self._admin, None
                await admin.close()
            await self._dead_letters.stop()

    async def _run(self) -> None:
        consumer, checkpoint = self._require_consumer(), self._require_checkpoint()
        while True:
            wait = self._sink.seconds_until_due()
            timeout_ms = 200 if wait is None else max(1, min(200, int(wait * 1000)))
            records = await consumer.getmany(timeout_ms=timeout_ms)
            for tp, messages in records.items():
                if tp.topic == topics.WORKFLOWS:
                    messages = await self._admit_workflows(tp, messages)
                added = await checkpoint.feed(tp, messages, self._add)
                self._metrics.inc(self._metrics.events_received, tp.topic, tp.partition, added)
            if checkpoint.flush_due():
                await checkpoint.flush()

    async def _add(self, message: ConsumerRecord[bytes, bytes]) -> None:
        """The record as a row of the sink, or skipped (both count toward the next commit); its
        batch's age counts from when it entered Kafka."""
        source = Source(message.offset, message.key, message.value)
        row = await self._row_or_none(message, source)
        if row is None:
            self._sink.skip(message.topic, message.partition, message.offset, message.timestamp)
        else:
            self._sink.add(row, message.topic, message.partition, source, message.timestamp)

    async def _row_or_none(self, message: ConsumerRecord[bytes, bytes], source: Source) -> Any:
        """The record's row; None for a repeat, a record the processors moved, a workflow change
        not accepted, or a record that cannot become a row (dead-lettered)."""
        tp = TopicPartition(message.topic, message.partition)
        if self._require_checkpoint().repeated(tp, message.headers):
            self._metrics.inc(self._metrics.duplicates, message.topic, message.partition)
            self._metrics.inc(self._metrics.events_dropped, message.topic, message.partition)
            return None
        if message.topic == topics.ENTRIES and self._moved_by_the_processors(message):
            return None
        try:
            return self._row(message.topic, source)
        except ValueError as exc:
            reason = reason_for(exc) if isinstance(exc, ValidationError) else "invalid_record"
            await self._dead_letters.send(
                message.topic, message.partition, source, reason, str(exc)
            )
            return None

    async def _rebuild(self, ranges: list[tuple[TopicPartition, int, int]]) -> None:
        """Add the records `first`..`last` of each range, of any partitions, read by offset with
        one reader outside the group (to write a pending group again: `sinks/checkpoint.py`)."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await reader.start()
        try:
            last = {tp: end for tp, _, end in ranges}
            reader.assign(list(last))
            for tp, first, _ in ranges:
                reader.seek(tp, first)
            while unread := [tp for tp, end in last.items() if await reader.position(tp) <= end]:
                fetched = await reader.getmany(*unread, timeout_ms=1000)
                for tp, records in fetched.items():
                    for record in records:
                        if record.offset <= last[tp]:
                            await self._add(record)
        finally:
            await reader.stop()

    def _moved_by_the_processors(self, message: ConsumerRecord[bytes, bytes]) -> bool:
        """An entries record off its key's rule partition, or keyed otherwise than its entry."""
        key, partitions = message.key, self._require_consumer().partitions_for_topic(message.topic)
        if key is None or not partitions:
            return False  # set aside below, as before
        return message.partition != rule_partition(key, len(partitions)) or not (
            keyed_as_its_entry(key, message.value)
        )

    def _row(self, topic: str, source: Source) -> Any:
        """A workflow change is a row only if the replica accepts it (else None)."""
        if topic == topics.WORKFLOWS:
            return self._workflows.decide(source)
        return self._sink.decode(topic, source)

    async def _admit_workflows(
        self, tp: TopicPartition, messages: list[ConsumerRecord[bytes, bytes]]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The workflow changes to write; none while the partition is sought to its beginning
        to rebuild the replica."""
        admitted = self._workflows.admit(messages)
        if admitted is None:
            await self._require_consumer().seek_to_beginning(tp)
            return []
        return admitted

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Read the commits of the partitions taken over (offsets with their marks and pending
        ranges) and hand them to the checkpoint; a workflows partition rebuilds its replica."""
        if any(tp.topic == topics.WORKFLOWS for tp in assigned):
            self._workflows.restart()
        admin = self._admin
        if admin is None or not assigned:
            return
        committed = await admin.list_consumer_group_offsets(
            self._settings.group_id, partitions=assigned
        )
        self._require_checkpoint().assign(assigned, committed)

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._require_checkpoint().revoke(revoked)

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("SinkConsumer is not started")
        return self._consumer

    def _require_checkpoint(self) -> Checkpoint:
        if self._checkpoint is None:
            raise RuntimeError("SinkConsumer is not started")
        return self._checkpoint


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
            await self._owner.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._owner.on_assigned(list(assigned))
