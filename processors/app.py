"""Wires the steps into a faust-streaming app: one agent from the raw topic to the events topic.

Records that cannot be read as an `Event`, or that a step cannot handle, go to the dead-letter
topic with the reason and the original bytes. Offsets are committed only after faust has flushed
what the agent produced, so a crash replays records: at least once, for now.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import faust
from faust.types import Message
from pydantic import ValidationError

from headwater.settings import KafkaSettings
from headwater.telemetry import ComponentMetrics
from processors import Step, run_steps
from processors.settings import ProcessorSettings
from processors.split_metrics import split_metrics
from schemas import topics
from schemas.dead_letter import DeadLetter, DeadLetterReason, reason_for
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
                outputs = [
                    (out.kafka_key(), encode(out))
                    for out in run_steps(decode(message.value), steps)
                ]
            except ValidationError as exc:
                await _set_aside(message, reason_for(exc), str(exc))
                continue
            except Exception as exc:  # a step or the encoder failed: keep the record, not the crash
                log.exception("processing failed", extra={"offset": message.offset})
                await _set_aside(message, "processing_failed", repr(exc))
                continue
            for key, value in outputs:
                await events.send(key=key, value=value)
            metrics.inc(metrics.events_sent, topics.EVENTS, n=len(outputs))

    async def _set_aside(message: Message, reason: DeadLetterReason, detail: str) -> None:
        letter = DeadLetter.of_record(
            reason,
            detail,
            "processors",
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value,
        )
        await dead_letters.send(key=message.key, value=letter.encode())
        metrics.inc(metrics.events_dropped, message.topic, message.partition)
        log.warning("dead letter", extra={"reason": reason, "offset": message.offset})

    return app
