"""The Kafka record each normalised item becomes: the gateway's one choice of topic and key.

| item            | topic                                                  | key                 |
|-----------------|--------------------------------------------------------|---------------------|
| `Event`         | headwater.raw, or headwater.bots for a known bot's     | `Event.kafka_key()` |
|                 | event where the endpoint keeps bots apart (Vemetric's) |                     |
| `Entry`         | headwater.entries                                      | `entry_key(...)`    |
| `DeletedEntry`  | headwater.entries, as a tombstone                      | its key             |
| `DeadLetter`    | headwater.deadletter                                   | the project's id    |

`headwater dlq replay` makes its records here too, so a replayed element lands where the
endpoint would have put it.
"""

from dataclasses import dataclass

from gateway.bots import is_bot
from gateway.event_record import EventRecord
from gateway.formats import DeletedEntry, Translation
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.entry import Entry
from schemas.event import Event, encode

__all__ = ["OutgoingRecord", "event_record", "records_of"]


@dataclass(slots=True)  # made per request: not frozen, see gateway/formats/__init__.py
class OutgoingRecord:
    """One Kafka record to produce; `value=None` is a tombstone."""

    topic: str
    key: bytes
    value: bytes | None
    partition: int | None = None  # None: the key's partition


def event_record(event: EventRecord | Event, keeps_bots_apart: bool) -> OutgoingRecord:
    """An event's record: a format's `EventRecord`, or a model (`headwater dlq`, tests)."""
    bot = keeps_bots_apart and is_bot(event.context.get("user_agent", ""))
    value = event.encode() if isinstance(event, EventRecord) else encode(event)
    return OutgoingRecord(topics.BOTS if bot else topics.RAW, event.kafka_key(), value)


def _entry_record(change: Entry | DeletedEntry) -> OutgoingRecord:
    if isinstance(change, DeletedEntry):
        return OutgoingRecord(topics.ENTRIES, change.key, None)
    return OutgoingRecord(topics.ENTRIES, change.kafka_key(), change.encode())


def _dead_letter_record(letter: DeadLetter, project_id: str) -> OutgoingRecord:
    return OutgoingRecord(topics.DEAD_LETTER, project_id.encode(), letter.encode())


def records_of(
    translation: Translation, project_id: str, keeps_bots_apart: bool
) -> tuple[list[OutgoingRecord], int]:
    """A request's records, in order (events, entries, dead letters), and how many are bots'.
    A plain loop: every request takes it (a comprehension or a generator costs a call)."""
    records: list[OutgoingRecord] = []
    bots = 0
    for event in translation.events:
        records.append(record := event_record(event, keeps_bots_apart))
        if record.topic is topics.BOTS:
            bots += 1
    if translation.entries:
        records += [_entry_record(change) for change in translation.entries]
    if translation.dead_letters:
        records += [_dead_letter_record(letter, project_id) for letter in translation.dead_letters]
    return records, bots
