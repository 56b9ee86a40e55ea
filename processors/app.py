"""Wires the steps into a faust-streaming app: one agent from the raw topic to the events topic.

Records that cannot be read as an `Event` go to the dead-letter topic with the reason and the
original bytes. Offsets are committed only after faust has flushed what the agent produced, so a
crash replays records (at least once); the dedupe step makes the replay harmless.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import faust
from pydantic import ValidationError

from headwater.settings import KafkaSettings
from headwater.telemetry import ComponentMetrics
from processors import Step, run_steps
from processors.settings import ProcessorSettings
from processors.split_metrics import split_metrics
from schemas import topics
from schemas.dead_letter import DeadLetter, reason_for
from schemas.event import decode, encode

__all__ = ["STEPS", "create_app"]

log = logging.getLogger(__name__)

STEPS: tuple[Step, ...] = (split_metrics,)


def create_app(
    settings: ProcessorSettings,
    kafka: KafkaSettings,
    data_dir: Path,
    metrics: ComponentMetrics,
    steps: Sequence[Step] = STEPS,
) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=";".join(f"kafka://{host}" for host in kafka.bootstrap_servers.split(",")),
        store="memory://",
        datadir=str(data_dir / "processors"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
    )
    raw = app.topic(topics.RAW, key_serializer="raw", value_serializer="raw")
    events = app.topic(topics.EVENTS, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(topics.DEAD_LETTER, key_serializer="raw", value_serializer="raw")

    @app.agent(raw, name="headwater.process")
    async def process(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            metrics.inc(metrics.events_received, message.topic, message.partition)
            try:
                event = decode(message.value)
            except ValidationError as exc:
                letter = DeadLetter.of_record(
                    reason_for(exc),
                    str(exc),
                    "processors",
                    message.topic,
                    message.partition,
                    message.offset,
                    message.key,
                    message.value,
                )
                await dead_letters.send(key=message.key, value=letter.encode())
                metrics.inc(metrics.events_dropped, message.topic, message.partition)
                log.warning(
                    "dead letter", extra={"reason": letter.reason, "offset": message.offset}
                )
                continue
            for out in run_steps(event, steps):
                await events.send(key=out.kafka_key(), value=encode(out))
                metrics.inc(metrics.events_sent, topics.EVENTS)

    return app
