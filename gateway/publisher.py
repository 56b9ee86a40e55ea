"""Publishes records to Kafka and says honestly whether Kafka has them.

The producer is idempotent with `acks=all`; `publish` returns only once every record of a request
is acknowledged, so a 2xx always means "durably in Kafka". Records are appended to the producer's
batches without a future each, and the request waits for its batches (`gateway/batches.py`).
Memory stays bounded: once `max_pending_events` records wait for acks, new requests get 503 at
once. When the broker is down at start-up the gateway still serves (answering 503) and keeps
connecting in the background; a periodic metadata fetch tells `/readyz` whether Kafka is reachable
right now.
"""

import asyncio
import logging
import random
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateway.batches import append
from gateway.errors import KafkaUnavailable
from gateway.metrics import GatewayMetrics
from gateway.records import OutgoingRecord
from gateway.settings import GatewaySettings
from runtime.partitioning import rule_partition
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask, Lifecycle

__all__ = ["RecordPublisher"]

log = logging.getLogger(__name__)

_RECONNECT_DELAY_S = 1.0
_MAX_BATCH_BYTES = 256 * 1024


def partition_for_key(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Headwater's partition rule (`runtime.partitioning`, aiokafka's default partitioner with
    murmur2 cached per key): records land where the processors keep their state."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[rule_partition(key, len(all_partitions))]


class RecordPublisher(Lifecycle):
    """An aiokafka producer with an explicit lifecycle and a bounded wait per request."""

    def __init__(
        self, kafka: KafkaSettings, settings: GatewaySettings, metrics: GatewayMetrics
    ) -> None:
        self._kafka = kafka
        self._settings = settings
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._background = BackgroundTask(self._run, "kafka-producer")
        self._reachable = False
        self._pending = 0
        self._retry_after = settings.retry_after_s

    @property
    def ready(self) -> bool:
        """Connected, and the last metadata fetch reached the cluster."""
        return self._producer is not None and self._reachable

    async def start(self) -> None:
        """Begin connecting; returns at once (requests get 503 until Kafka is reachable)."""
        await self._background.start()

    async def stop(self) -> None:
        """Flush what is in flight and close. Safe to call twice."""
        await self._background.stop()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(self, records: list[OutgoingRecord]) -> list[int]:
        """Send every record and wait for all acks, or raise KafkaUnavailable.

        Returns the partition of each record, in order."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable.at("kafka", "not connected to Kafka yet", self._retry_after)
        if self._pending + len(records) > self._settings.max_pending_events:
            raise KafkaUnavailable.at("kafka", "the producer's buffer is full", self._retry_after)
        timeout = self._settings.produce_timeout_ms / 1000
        self._pending += len(records)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                partitions, deliveries = await append(producer, records)
                if len(deliveries) == 1:  # a single event, the common case, needs no gather
                    await asyncio.shield(deliveries[0])
                else:
                    await asyncio.gather(*map(asyncio.shield, deliveries))
        except (KafkaError, TimeoutError) as exc:
            self._metrics.inc(self._metrics.errors, n=len(records))
            raise KafkaUnavailable.at(
                "kafka", f"no ack within {timeout}s", self._retry_after
            ) from exc
        finally:
            self._pending -= len(records)
        self._metrics.produce_latency.observe(time.perf_counter() - started)
        return partitions

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions, as the producer's metadata knows them (fetched if need be),
        or KafkaUnavailable."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable.at("kafka", "not connected to Kafka yet", self._retry_after)
        timeout = self._settings.produce_timeout_ms / 1000
        try:
            async with asyncio.timeout(timeout):
                found = await producer.partitions_for(topic)
        except (KafkaError, TimeoutError) as exc:
            raise KafkaUnavailable.at(
                "kafka", f"no metadata of {topic} within {timeout}s", self._retry_after
            ) from exc
        return sorted(found)

    async def _run(self) -> None:
        self._producer = await self._connect()
        self._reachable = True
        while True:
            await asyncio.sleep(self._settings.kafka_check_interval_s)
            self._reachable = await self._cluster_answers(self._producer)

    async def _cluster_answers(self, producer: AIOKafkaProducer) -> bool:
        try:
            async with asyncio.timeout(self._settings.kafka_check_interval_s):
                await producer.client.fetch_all_metadata()
        except (KafkaError, TimeoutError) as exc:
            if self._reachable:
                log.warning("kafka unreachable", extra={"error": repr(exc)})
            return False
        return True

    async def _connect(self) -> AIOKafkaProducer:
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._kafka.bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                linger_ms=self._settings.linger_ms,
                max_batch_size=_MAX_BATCH_BYTES,
                partitioner=partition_for_key,
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
            return producer
