"""Wires the processors into a faust-streaming app.

Two agents, co-partitioned (same partition counts, same keys, so faust gives partition N of both
topics to one worker):
- `headwater.entries` reads the compacted entries topic into the `entries` table;
- `headwater.process` reads the raw topic: decode, dedupe, resolve the entry (Embeddables), resolve
  the person, split metrics from dimensions, and send the event to the events partition of the
  raw record's number, naming the raw record in a header (`schemas.topics.SOURCE_HEADER`).

State is in faust tables on RocksDB, each with its changelog topic: `seen` (dedupe), `links`
(anonymous id -> user) and `entries`. Processing is at least once toward Kafka and deterministic
on replay, and the sink skips outputs whose raw record already passed: exactly once in effect
(README, "Delivery guarantees"). Records that cannot be processed go to the dead-letter topic with
the reason and the original bytes.
"""

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, cast

import faust
from aiokafka.structs import RecordMetadata
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP, TableT
from pydantic import ValidationError

from processors.dedupe import SeenSet, event_identity
from processors.entries import EntryIndex
from processors.gaps import RawGaps
from processors.identity import IdentityLinks
from processors.settings import ProcessorSettings
from processors.split_metrics import split_metrics
from runtime.settings import KafkaSettings
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.dead_letter import DeadLetter, DeadLetterReason, reason_for
from schemas.event import Event, decode, encode

__all__ = [
    "EXIT_RESTART",
    "changelog_topics",
    "create_app",
    "exit_on_failure",
    "exit_unless_delivered",
]

log = logging.getLogger(__name__)

_ENTRY_POLL_S = 0.02
EXIT_RESTART = 75  # EX_TEMPFAIL: a supervisor should start the worker again
_SEEN, _LINKS, _ENTRIES = "seen", "links", "entries"  # the faust tables
_MB = 1024 * 1024
_WRITE_BUFFERS = 2  # RocksDB memtables per table partition: one filling, one flushing
_FAUST_KEY_PREFIX = b"__faust"  # faust keeps its own bookkeeping (offsets) in each RocksDB


class _RawRecord(Protocol):
    """What processing reads of a raw record: a faust `Message`, or an aiokafka `ConsumerRecord`
    read by `RawGaps`."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class _Unprocessable(Exception):
    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def create_app(
    settings: ProcessorSettings, kafka: KafkaSettings, data_dir: Path, metrics: ComponentMetrics
) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=";".join(f"kafka://{host}" for host in kafka.bootstrap_servers.split(",")),
        store="rocksdb://",
        key_serializer="raw",  # tables' changelogs: keys and values are bytes we encode
        value_serializer="raw",
        datadir=str(data_dir / "processors"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=0.01,
        producer_max_batch_size=262_144,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
    )
    raw = _raw_topic(app, topics.RAW)
    entries_topic = _raw_topic(app, topics.ENTRIES)
    store_options = {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * _MB,
        "max_write_buffer_number": _WRITE_BUFFERS,
        "block_cache_size": settings.rocksdb_block_cache_mb * _MB,
    }
    seen_table = _table(app, _SEEN, kafka.partitions, store_options)
    seen = SeenSet(seen_table, settings.dedupe_window_s * 1000)
    links = IdentityLinks(_table(app, _LINKS, kafka.partitions, store_options))
    entries = EntryIndex(_table(app, _ENTRIES, kafka.partitions, store_options))
    sweeper = _Sweeper(seen_table, seen, settings.sweep_every, settings.sweep_slice)
    entries_read: dict[int, int] = {}  # entries partition -> last offset applied

    @app.agent(entries_topic, name="headwater.entries")
    async def follow_entries(stream: faust.StreamT) -> None:
        with exit_on_failure("headwater.entries"):
            async for record in stream.events():
                message = record.message
                if message.key is not None:
                    entries.apply(message.key, message.value)
                entries_read[message.partition] = message.offset

    gaps = RawGaps(kafka, settings.app_id, topics.RAW)
    app.add_dependency(gaps)  # started and stopped with the app

    @app.agent(raw, name="headwater.process")
    async def process(stream: faust.StreamT) -> None:
        with exit_on_failure("headwater.process"):
            async for record in stream.events():
                message = record.message
                generation = app.consumer_generation_id
                missed = await gaps.missed(message.partition, message.offset, generation)
                if missed is None:
                    continue  # delivered again after a rebalance; already handled
                for earlier in missed:
                    await _handle(earlier)
                await _handle(message)

    async def _handle(message: _RawRecord) -> None:
        """Process one raw record: hand it on, drop it as a duplicate, or set it aside."""
        metrics.inc(metrics.events_received, message.topic, message.partition)
        try:
            output = await _process(message)
        except _Unprocessable as exc:
            await _set_aside(message, exc.reason, str(exc))
            return
        except ValidationError as exc:
            await _set_aside(message, reason_for(exc), str(exc))
            return
        except Exception as exc:  # a step or the encoder failed: keep the record, not the crash
            log.exception("processing failed", extra={"offset": message.offset})
            await _set_aside(message, "processing_failed", repr(exc))
            return
        finally:
            sweeper.step(message.partition)
        if output is None:
            metrics.inc(metrics.duplicates, message.topic, message.partition)
            metrics.inc(metrics.events_dropped, message.topic, message.partition)
            return
        source = f"{message.partition}:{message.offset}".encode()
        await _send(topics.EVENTS, message.key, output, message.partition, source)
        metrics.inc(metrics.events_sent, topics.EVENTS, message.partition)

    async def _process(message: _RawRecord) -> bytes | None:
        """The processed event to hand on, or None for a duplicate."""
        event = decode(message.value or b"")  # a tombstone is not an event: invalid_record
        identity = event_identity(event)
        if seen.is_duplicate(identity, event, message.offset):
            return None
        if (entry_key := event.names_entry()) is not None:
            event = await _with_entry(event, entry_key, message.partition)
        output = encode(split_metrics(links.resolve(event)))
        seen.remember(identity, event, message.offset)
        sweeper.advance(message.partition, event)
        return output

    async def _with_entry(event: Event, entry_key: bytes, partition: int) -> Event:
        """Resolve the event's entry, first waiting out entries this worker has not read yet."""
        deadline = asyncio.get_running_loop().time() + settings.entry_wait_ms / 1000
        while (entry := entries.find(entry_key)) is None and _entries_behind(partition):
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(_ENTRY_POLL_S)
        if entry is None:
            raise _Unprocessable(
                "ENTRY_NOT_FOUND",
                f"no entry of embeddable {event.embeddable_id!r} has {event.identifier_key}"
                f" = {event.identifier_value!r}",
            )
        return event.model_copy(update={"person_id": entry.entry_id})

    def _entries_behind(partition: int) -> bool:
        end = app.consumer.highwater(TP(topics.ENTRIES, partition))
        return bool(end) and entries_read.get(partition, -1) + 1 < end

    async def _set_aside(message: _RawRecord, reason: DeadLetterReason, detail: str) -> None:
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
        await _send(topics.DEAD_LETTER, message.key, letter.encode())
        metrics.inc(metrics.events_dropped, message.topic, message.partition)
        log.warning("dead letter", extra={"reason": reason, "offset": message.offset})

    async def _send(
        topic: str,
        key: bytes | None,
        value: bytes,
        partition: int | None = None,
        source: bytes | None = None,
    ) -> None:
        """Queue a record on faust's producer, which the consumer flushes before it commits raw
        offsets. faust's `Topic.send` does the same through a FutureMessage and its callbacks,
        about 45 µs a record more here (README, "Processors performance")."""
        headers = [(topics.SOURCE_HEADER, source)] if source is not None else None
        queued = await app.producer.send(topic, key, value, partition, None, headers)
        delivery = cast("asyncio.Future[RecordMetadata]", queued)  # aiokafka's own future
        delivery.add_done_callback(exit_unless_delivered)

    return app


def exit_unless_delivered(delivery: "asyncio.Future[RecordMetadata]") -> None:
    """A record the producer gave up on must not be committed past. The consumer's commit
    flushes the producer and then commits whatever was acked, failed sends included, so the
    worker exits at once, like a crash: its successor reads from the last commit again."""
    if delivery.cancelled() or (error := delivery.exception()) is None:
        return
    _exit_before_commit("a record could not be delivered", error)


@contextmanager
def exit_on_failure(agent: str) -> Iterator[None]:
    """End the worker at once when an agent fails, like a crash.

    faust would restart the agent, but the stream acks the record the agent failed on as it
    closes, and the next commit would pass it unprocessed: an entry never applied, a raw record
    never handed on. Exiting before any other task runs leaves it uncommitted for the worker's
    successor. Records that cannot be processed do not get here; they are dead letters."""
    try:
        yield
    except Exception as exc:
        _exit_before_commit(f"agent {agent} failed", exc)


def _exit_before_commit(what: str, error: BaseException) -> None:
    log.critical(f"{what}; exiting before the next commit", exc_info=error)
    os._exit(EXIT_RESTART)


def changelog_topics(app_id: str) -> list[str]:
    """The changelog topic of each table, named as faust names them."""
    return [f"{app_id}-{table}-changelog" for table in (_SEEN, _LINKS, _ENTRIES)]


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def _table(
    app: faust.App, name: str, partitions: int, store_options: dict[str, int]
) -> TableT[bytes, bytes]:
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        options=dict(store_options),  # faust's store pops keys from the dict it is given
    )


class _Sweeper:
    """Deletes expired identities a slice at a time, walking each partition's RocksDB in key order
    and wrapping around, so a full pass takes about (identities held / slice * every) events.

    It runs inside the stream, on an event of the partition it sweeps, because faust sends a
    table's changelog tombstones to the partition of the event being processed."""

    def __init__(
        self, table: TableT[bytes, bytes], seen: SeenSet, every: int, slice_size: int
    ) -> None:
        self._table = table
        self._seen = seen
        self._every = every
        self._slice = slice_size
        self._count: defaultdict[int, int] = defaultdict(int)
        self._cursor: dict[int, bytes | None] = {}
        self._clock_ms: dict[int, int] = {}  # the latest received_at handed on, per partition

    def advance(self, partition: int, event: Event) -> None:
        now_ms = int(event.received_at.timestamp() * 1000)
        self._clock_ms[partition] = max(now_ms, self._clock_ms.get(partition, 0))

    def step(self, partition: int) -> None:
        self._count[partition] += 1
        if self._count[partition] % self._every or partition not in self._clock_ms:
            return
        store = self._table.data
        assert isinstance(store, RocksDBStore), "the app is created with store='rocksdb://'"
        db = store._db_for_partition(partition)
        iterator = db.iter()
        cursor = self._cursor.get(partition)
        if cursor is None:
            iterator.seek_to_first()
        else:
            iterator.seek(cursor)
        items: list[tuple[bytes, bytes]] = []
        while iterator.valid() and len(items) < self._slice:
            key = iterator.key()
            if not key.startswith(_FAUST_KEY_PREFIX):
                items.append((key, iterator.value()))
            iterator.next()
        self._cursor[partition] = iterator.key() if iterator.valid() else None
        self._seen.expire(items, self._clock_ms[partition])
