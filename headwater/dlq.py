"""`headwater dlq list | replay`: look at dead letters and put them back where they came from.

Both read `headwater.deadletter` from the beginning up to its end at the time of the call,
without a consumer group, so they never move anyone's offsets. A replay produces each matching
letter's original payload, with its original key, to the topic it was read from (after a fix,
the processors or the sink take it again). Replaying a letter twice produces it twice; the
event's own `event_id` makes the repeat collapse downstream.

A gateway letter (an element of a bulk body, set aside on its own) was never on Kafka and holds
vendor JSON, not an `Event`: its element is translated again by its format's current code with
the current gateway settings (after a fix, or a raised `HEADWATER_GATEWAY_MAX_PROPERTIES`), and
the event goes to headwater.raw with the id recorded in the letter, so replaying twice makes one
event downstream. Elements still invalid are reported, not produced; their letters stay.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from gateway.errors import GatewayError
from gateway.formats import usermaven
from gateway.records import event_record
from gateway.settings import GatewaySettings
from gateway.validation import Limits
from runtime.settings import KafkaSettings
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.event import Event

__all__ = ["LetterFilter", "Replay", "StoredLetter", "list_letters", "record_for", "replay_letters"]

# Each vendor format whose gateway sets bulk elements aside, and how it translates one again.
# None of their endpoints keeps bots apart, so each event goes where any of theirs goes.
TRANSLATIONS: dict[str, Callable[[DeadLetter, Limits], Event]] = {
    "usermaven": usermaven.replay,
}


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


@dataclass
class Replay:
    """The letters replayed, and those that could not be, with why (an element still invalid)."""

    replayed: list[StoredLetter] = field(default_factory=list)
    refused: list[tuple[StoredLetter, str]] = field(default_factory=list)


def record_for(letter: DeadLetter, gateway: GatewaySettings) -> tuple[str, bytes | None, bytes]:
    """(topic, key, value) to produce for `letter`; GatewayError or ValueError if none."""
    if letter.origin is None:
        if letter.topic is None:
            raise ValueError("the letter names no topic and no gateway origin")
        key = letter.key.encode() if letter.key is not None else None
        return letter.topic, key, letter.payload.encode()
    translation = TRANSLATIONS.get(letter.origin.format)
    if translation is None:
        raise ValueError(f"no translation for the {letter.origin.format!r} format")
    record = event_record(translation(letter, Limits.of(gateway)), keeps_bots_apart=False)
    return record.topic, record.key, record.value or b""


def replay_letters(kafka: KafkaSettings, wanted: LetterFilter, gateway: GatewaySettings) -> Replay:
    """Produce each matching letter's payload to its original topic (a gateway letter: its
    element translated again with `gateway`'s settings, to headwater.raw)."""

    async def replay() -> Replay:
        done, letters = Replay(), await _collect(kafka, wanted)
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            deliveries = []
            for stored in letters:
                try:
                    topic, key, value = record_for(stored.letter, gateway)
                except (GatewayError, ValueError) as exc:
                    done.refused.append((stored, str(exc)))
                    continue
                deliveries.append(await producer.send(topic, value, key=key))
                done.replayed.append(stored)
            await asyncio.gather(*deliveries)
        finally:
            await producer.stop()
        return done

    return asyncio.run(replay())
