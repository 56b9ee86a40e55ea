"""`headwater dlq list | replay`: look at dead letters and put them back where they came from.

Both read `headwater.deadletter` from the beginning up to its end at the time of the call,
without a consumer group, so they never move anyone's offsets. A replay produces each matching
letter's original payload, with its original key, to the topic it was read from (after a fix,
the processors or the sink take it again). Replaying a letter twice produces it twice; the
event's own `event_id` makes the repeat collapse downstream.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from headwater.settings import KafkaSettings
from schemas import topics
from schemas.dead_letter import DeadLetter

__all__ = ["LetterFilter", "StoredLetter", "list_letters", "replay_letters"]


@dataclass(frozen=True)
class StoredLetter:
    partition: int
    offset: int
    letter: DeadLetter


@dataclass(frozen=True)
class LetterFilter:
    reason: str | None = None
    stage: str | None = None
    topic: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.reason, letter.reason),
                (self.stage, letter.stage),
                (self.topic, letter.topic),
            )
        )


async def _letters(kafka: KafkaSettings) -> AsyncIterator[StoredLetter]:
    """Every dead letter up to the end offsets seen at the start (unreadable ones skipped)."""
    consumer = AIOKafkaConsumer(
        topics.DEAD_LETTER,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(list(consumer.assignment()))
        positions = {tp: 0 for tp in ends}
        while any(positions[tp] < end for tp, end in ends.items()):
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        try:
                            letter = DeadLetter.model_validate_json(record.value or b"")
                        except ValidationError:
                            continue
                        yield StoredLetter(tp.partition, record.offset, letter)
                positions[tp] = await consumer.position(tp)
    finally:
        await consumer.stop()


async def _collect(kafka: KafkaSettings, wanted: LetterFilter) -> list[StoredLetter]:
    return [stored async for stored in _letters(kafka) if wanted.matches(stored.letter)]


def list_letters(kafka: KafkaSettings, wanted: LetterFilter) -> list[StoredLetter]:
    return asyncio.run(_collect(kafka, wanted))


def replay_letters(kafka: KafkaSettings, wanted: LetterFilter) -> list[StoredLetter]:
    """Produce each matching letter's payload to its original topic; return those replayed."""

    async def replay() -> list[StoredLetter]:
        letters = await _collect(kafka, wanted)
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            deliveries = [
                await producer.send(
                    stored.letter.topic,
                    stored.letter.payload.encode(),
                    key=stored.letter.key.encode() if stored.letter.key is not None else None,
                )
                for stored in letters
            ]
            await asyncio.gather(*deliveries)
        finally:
            await producer.stop()
        return letters

    return asyncio.run(replay())
