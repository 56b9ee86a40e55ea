"""Publishes events to the raw topic and says honestly whether Kafka has them.

The producer is idempotent with `acks=all`; `publish` returns only once every record of a request
is acknowledged, so a 2xx always means "durably in Kafka". When the broker is down at start-up the
gateway still serves (answering 503) and keeps connecting in the background.
"""

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateway.errors import KafkaUnavailable
from gateway.settings import GatewaySettings
from headwater.settings import KafkaSettings
from headwater.tasks import cancel_and_wait
from headwater.telemetry import ComponentMetrics
from schemas import topics
from schemas.event import Event, encode

__all__ = ["RecordPublisher"]

log = logging.getLogger(__name__)

_RECONNECT_DELAY_S = 1.0


class RecordPublisher:
    """An aiokafka producer with an explicit lifecycle and a bounded wait per request."""

    def __init__(
        self, kafka: KafkaSettings, settings: GatewaySettings, metrics: ComponentMetrics
    ) -> None:
        self._kafka = kafka
        self._settings = settings
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Begin connecting; returns at once (requests get 503 until Kafka is reachable)."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect_until_ready())

    async def stop(self) -> None:
        """Flush what is in flight and close. Safe to call twice."""
        await cancel_and_wait(self._connecting)
        self._connecting = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(self, events: list[Event]) -> None:
        """Send every event and wait for all acks, or raise KafkaUnavailable."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("not connected to Kafka yet")
        timeout = self._settings.produce_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout):
                deliveries = [
                    await producer.send(topics.RAW, encode(event), key=event.kafka_key())
                    for event in events
                ]
                acks = await asyncio.gather(*deliveries)
        except (KafkaError, TimeoutError) as exc:
            self._metrics.inc(self._metrics.errors, topics.RAW, n=len(events))
            raise KafkaUnavailable(f"Kafka did not acknowledge within {timeout}s") from exc
        for ack in acks:
            self._metrics.inc(self._metrics.events_sent, topics.RAW, ack.partition)

    async def _connect_until_ready(self) -> None:
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._kafka.bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                linger_ms=self._settings.linger_ms,
                request_timeout_ms=self._settings.produce_timeout_ms,
                client_id="headwater-gateway",
            )
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("kafka not reachable yet", extra={"error": repr(exc)})
                await producer.stop()
                await asyncio.sleep(_RECONNECT_DELAY_S)
                continue
            except BaseException:  # stop() cancelled us mid-start, or a bug: close what opened
                log.exception("producer start aborted")
                await producer.stop()
                raise
            self._producer = producer
            return
