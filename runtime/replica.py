"""Follow a compacted topic from its beginning, in the background: the replicas' common part.

A replica reads every partition without a consumer group (it needs all of them, from the start,
in every process) and hands each batch of records to its owner; `partitions` is the topic's
partition count as the consumer's metadata has it, for owners that check where a record is. It
is ready once it has read up to the end offsets it saw when it began; after a Kafka error it
starts over, telling its owner to forget what it had (`reset`), so state is never built from a
partial second reading.
"""

import asyncio
import logging
import math
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from runtime.kafka import ensure_topics
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask, Lifecycle

__all__ = ["Records", "TopicFollower"]

log = logging.getLogger(__name__)

Records = list[ConsumerRecord[bytes, bytes]]

_RETRY_DELAY_S = 1.0
_FETCH_WAIT_MS = 100


class TopicFollower(Lifecycle):
    """Reads `topic` from the beginning for as long as it runs; `apply` gets every record."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        client_id: str,
        apply: Callable[[Records], None],
        reset: Callable[[], None],
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self._client_id = client_id
        self._apply = apply
        self._reset = reset
        self.caught_up = asyncio.Event()
        self.partitions = 0  # known once the consumer has the topic's metadata
        self._follower = BackgroundTask(self._follow, f"{client_id}-follower")

    @property
    def ready(self) -> bool:
        return self.caught_up.is_set()

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _follow(self) -> None:
        await ensure_topics(self._kafka, timeout=math.inf)
        while True:
            consumer = AIOKafkaConsumer(
                self._topic,
                bootstrap_servers=self._kafka.bootstrap_servers,
                group_id=None,  # no group: every partition, from the beginning
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                fetch_max_wait_ms=_FETCH_WAIT_MS,
                client_id=self._client_id,
            )
            try:
                await consumer.start()
                await self._read(consumer)
            except KafkaError as exc:
                log.warning(
                    "replica: kafka error, reading again",
                    extra={"topic": self._topic, "error": repr(exc)},
                )
                await asyncio.sleep(_RETRY_DELAY_S)
            finally:
                await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        self._reset()
        self.caught_up.clear()
        targets: dict[TopicPartition, int] = {}
        while True:
            batches = await consumer.getmany(timeout_ms=_FETCH_WAIT_MS * 5)
            self.partitions = len(consumer.partitions_for_topic(self._topic) or ())
            for records in batches.values():
                self._apply(records)
            if self.caught_up.is_set() or not consumer.assignment():
                continue
            if not targets:  # the end offsets when we started reading: caught up once there
                targets = await consumer.end_offsets(list(consumer.assignment()))
            positions = {tp: await consumer.position(tp) for tp in targets}
            if all(positions[tp] >= end for tp, end in targets.items()):
                self.caught_up.set()
