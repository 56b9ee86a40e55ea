"""The sink's dead-letter topic: records it cannot turn into rows, and rows the store refused.

Each letter is sent and acknowledged (`send_and_wait`) before the offset that passes its record is
committed, so a record is either stored, dead-lettered, or read again: never lost.
"""

from aiokafka import AIOKafkaProducer

from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.dead_letter import DeadLetter, DeadLetterReason
from sinks.base import Source

__all__ = ["DeadLetters"]


class DeadLetters(Lifecycle):
    """An idempotent producer to `headwater.dead_letter`, counting each letter as dropped."""

    def __init__(self, kafka: KafkaSettings, metrics: ComponentMetrics) -> None:
        self._kafka = kafka
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._kafka.bootstrap_servers, acks="all", enable_idempotence=True
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def send(
        self, topic: str, partition: int, source: Source, reason: DeadLetterReason, detail: str
    ) -> None:
        """Set the record aside and wait for Kafka's acknowledgement."""
        letter = DeadLetter.of_record(
            reason, detail, "sink", topic, partition, source.offset, source.key, source.value
        )
        producer = self._producer
        assert producer is not None, "started in start()"
        await producer.send_and_wait(topics.DEAD_LETTER, letter.encode(), key=source.key)
        self._metrics.inc(self._metrics.events_dropped, topic, partition)
