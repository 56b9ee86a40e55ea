"""The processing chain: what one raw record becomes, with no faust and no Kafka in sight.

decode -> place -> dedupe -> entry -> identity -> split -> route -> trigger, for each record of
the raw topic:

1. decode the `Event` (a tombstone or a record that is not an `Event` is a dead letter, its reason
   from `schemas.dead_letter.reason_for`);
2. place: a record off Headwater's partition rule (not on `rule_partition(event.kafka_key())`)
   becomes one copy for its rule partition, and nothing else: no state is read or written for
   it, and the copy is processed there (`processors.place`);
3. dedupe: drop it if its identity was seen inside the window (`processors.dedupe`);
4. entry: an Embeddables event belongs to its entry; on a miss, it waits up to `entry_wait_ms` for
   the entries in Kafka this worker has not read or applied yet (`processors.entry_index`); none
   is an ENTRY_NOT_FOUND dead letter;
5. identity: record the link the event carries and resolve its person (`processors.identity`);
6. split its properties into metrics and dimensions (`processors.split_metrics`);
7. route it to the events partition of the raw record's number, naming the raw record in a header
   (`schemas.topics.SOURCE_HEADER`), so the sink can skip outputs whose raw record already passed;
8. trigger: the workflows the final event starts or stops (`processors.triggers`) make one
   command for the engine, sent to `headwater.workflow-commands` beside the event. Its request id
   is the event's id, so the same raw record read again after a crash makes the same command, and
   the engine starts nothing new for it.

A record that fails any step, the encoder included, becomes a dead letter carrying the reason and
the original bytes: the record is kept, not the crash. A sighting is remembered only once its
event is handed on, so a dead letter put back after a fix is not taken for a duplicate.

The state is passed in: the steps' tables (`processors.batches.BatchTable`s in the worker, dicts
in the tests), the sweeper, where the entries partitions end, the raw topic's rule and the
workflow triggers. `Chain.handle` counts what it decides and returns what to send;
`processors/app.py` sends a batch of records' outputs in the order of the raw records, with the
batch's table changes, and acknowledges the raw records once Kafka has them all.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from processors.dedupe import SeenSet, Sweeper, event_identity
from processors.entry_index import EntryIndex
from processors.identity import IdentityLinks
from processors.place import Rule
from processors.records import Outgoing
from processors.split_metrics import split_metrics
from processors.triggers import WorkflowTriggers
from runtime.streams import ConsumedRecord
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.dead_letter import DeadLetter, DeadLetterReason, reason_for
from schemas.entry import Entry
from schemas.event import Event, decode, encode
from schemas.workflows import Command

__all__ = ["Chain"]

log = logging.getLogger(__name__)

_ENTRY_POLL_S = 0.02


class _Unprocessable(Exception):
    """A record no retry can process: set aside with its own reason."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, kw_only=True, slots=True)
class Chain:
    """One worker's processing chain over its state; `handle` takes each partition's raw records
    in offset order."""

    seen: SeenSet
    entries: EntryIndex
    links: IdentityLinks
    sweeper: Sweeper
    metrics: ComponentMetrics
    entry_wait_ms: int
    # the end offset of each entries partition this worker holds, asked of the broker
    entries_ends: Callable[[], Awaitable[Mapping[int, int | None]]]
    triggers: WorkflowTriggers
    rule: Rule  # where the raw topic's records belong

    async def handle(self, record: ConsumedRecord) -> list[Outgoing]:
        """What one raw record becomes: its processed event (and the command it makes for the
        workflow engine, if any), a dead letter, nothing (a duplicate), or its copy for the
        partition it belongs on. The copy is counted as received where it lands, not here."""
        try:
            event: Event | ValidationError = decode(record.value or b"")  # a tombstone is not
        except ValidationError as exc:  # an event either: invalid_record
            event = exc  # set aside where it is: without an event there is no rule to follow
        if isinstance(event, Event) and (copy := self._misplaced(record, event)) is not None:
            return [copy]
        self.metrics.inc(self.metrics.events_received, record.topic, record.partition)
        try:
            outgoing = await self._process(record, event)
        except _Unprocessable as exc:
            return [self._set_aside(record, exc.reason, str(exc))]
        except ValidationError as exc:
            return [self._set_aside(record, reason_for(exc), str(exc))]
        except Exception as exc:  # a step or the encoder failed: keep the record, not the crash
            log.exception("processing failed", extra={"offset": record.offset})
            return [self._set_aside(record, "processing_failed", repr(exc))]
        finally:
            self.sweeper.step(record.partition)
        if not outgoing:
            self.metrics.inc(self.metrics.duplicates, record.topic, record.partition)
            self.metrics.inc(self.metrics.events_dropped, record.topic, record.partition)
        else:
            self.metrics.inc(self.metrics.events_sent, outgoing[0].topic, record.partition)
        return outgoing

    def _misplaced(self, record: ConsumedRecord, event: Event) -> Outgoing | None:
        """Step 2, place: the record's copy for its rule partition, if it is not there."""
        return self.rule.misplaced(record, event.kafka_key(), event.source_format)

    async def _process(
        self, record: ConsumedRecord, event: Event | ValidationError
    ) -> list[Outgoing]:
        """The processed event to hand on and its command, if any; [] for a duplicate."""
        if isinstance(event, ValidationError):
            raise event
        identity = event_identity(event)
        if self.seen.is_duplicate(identity, event, record.offset):
            return []
        if (entry_key := event.names_entry()) is not None:
            event = await self._with_entry(event, entry_key)
        final = split_metrics(self.links.resolve(event))
        output = encode(final)
        if not self.triggers.ready:
            await self.triggers.caught_up()
        command = self.triggers.commands_for(final)
        self.seen.remember(identity, event, record.offset)
        self.sweeper.advance(record.partition, event)
        if command is None:
            return [_route(record, output)]
        self.triggers.count(command, record.partition)
        return [_route(record, output), _command(command)]

    async def _with_entry(self, event: Event, entry_key: bytes) -> Event:
        """Resolve the event's entry; a miss first waits out what this worker has not read."""
        entry = self.entries.find(entry_key) or await self._wait_for_entry(entry_key)
        if entry is None:
            raise _Unprocessable(
                "ENTRY_NOT_FOUND",
                f"no entry of embeddable {event.embeddable_id!r} has {event.identifier_key}"
                f" = {event.identifier_value!r}",
            )
        return event.model_copy(update={"person_id": entry.entry_id})

    async def _wait_for_entry(self, entry_key: bytes) -> Entry | None:
        """The entry once this worker has applied every entries record in Kafka when it asked
        (the broker's end offsets, not the consumer's last view of them: an entry produced
        before the event may be in Kafka and not fetched yet) and its copies on their way, or
        None; at most `entry_wait_ms`."""
        clock = asyncio.get_running_loop().time
        deadline = clock() + self.entry_wait_ms / 1000
        ends = await self.entries_ends()
        while (entry := self.entries.find(entry_key)) is None and not self.entries.settled(
            entry_key, ends
        ):
            if clock() >= deadline:
                break
            await asyncio.sleep(_ENTRY_POLL_S)
        return entry

    def _set_aside(self, record: ConsumedRecord, reason: DeadLetterReason, detail: str) -> Outgoing:
        letter = DeadLetter.of_record(
            reason,
            detail,
            "processors",
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
        )
        self.metrics.inc(self.metrics.events_dropped, record.topic, record.partition)
        log.warning("dead letter", extra={"reason": reason, "offset": record.offset})
        return Outgoing(topics.DEAD_LETTER, record.key, letter.encode())


def _command(command: Command) -> Outgoing:
    """Keyed by project, environment and person: the engine keeps a person's executions on one
    partition, in the order of their commands."""
    return Outgoing(topics.WORKFLOW_COMMANDS, command.kafka_key(), command.encode())


def _route(record: ConsumedRecord, output: bytes) -> Outgoing:
    """The events partition of the raw record's number, with the raw record named in a header."""
    source = f"{record.partition}:{record.offset}".encode()
    return Outgoing(
        topics.EVENTS, record.key, output, record.partition, [(topics.SOURCE_HEADER, source)]
    )
