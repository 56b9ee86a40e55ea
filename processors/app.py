"""Wires the processing chain (`processors/chain.py`) into a faust-streaming app.

Two agents, co-partitioned (same partition counts, same keys, so faust gives partition N of both
topics to one worker):
- `headwater.entries` reads the compacted entries topic into the `entries` table;
- `headwater.raw-to-events` reads the raw topic, hands each record to the chain (decode, dedupe,
  entry, identity, split, route, trigger) and sends what it returns: the event to the events
  partition of the raw record's number and the command for the workflow engine it makes, if any;
  or a dead letter.

State is in faust tables on RocksDB, each with its changelog topic: `seen` (dedupe), `links`
(anonymous id -> user) and `entries`. Processing is at least once toward Kafka and deterministic
on replay, and the sink skips outputs whose raw record already passed: exactly once in effect
(docs/pipeline.md, "Delivery guarantees"). This module holds what is faust's: topics, tables,
agents, sending, and the worker's exit when a record could be committed past unhandled. The worker
also follows the Embed Workflow API's definitions (runtime/definition_replica.py), for the chain's
trigger step (processors/triggers.py). A command is on faust's producer with its event, so it is
in Kafka before the raw record's offset is committed.
"""

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import faust
from aiokafka.structs import RecordMetadata
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP, TableT
from mode import Service
from prometheus_client import Gauge

from processors.chain import Chain, Outgoing
from processors.dedupe import SeenSet, StoredSlice, Sweeper
from processors.entry_index import EntryIndex
from processors.gaps import RawGaps
from processors.identity import IdentityLinks
from processors.settings import ProcessorSettings
from processors.triggers import WorkflowChanges, WorkflowTriggers
from runtime.definition_replica import DefinitionReplica
from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle
from runtime.telemetry import ComponentMetrics
from schemas import topics

__all__ = [
    "EXIT_RESTART",
    "changelog_topics",
    "create_app",
    "exit_on_failure",
    "exit_unless_delivered",
]

log = logging.getLogger(__name__)

EXIT_RESTART = 75  # EX_TEMPFAIL: a supervisor should start the worker again
_SEEN, _LINKS, _ENTRIES = "seen", "links", "entries"  # the faust tables
_MB = 1024 * 1024
_WRITE_BUFFERS = 2  # RocksDB memtables per table partition: one filling, one flushing
_FAUST_KEY_PREFIX = b"__faust"  # faust keeps its own bookkeeping (offsets) in each RocksDB


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
    store_options = {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * _MB,
        "max_write_buffer_number": _WRITE_BUFFERS,
        "block_cache_size": settings.rocksdb_block_cache_mb * _MB,
    }
    seen_table = _table(app, _SEEN, kafka.partitions, store_options)
    seen = SeenSet(seen_table, settings.dedupe_window_s * 1000)
    entries = EntryIndex(_table(app, _ENTRIES, kafka.partitions, store_options))
    chain = Chain(
        seen=seen,
        entries=entries,
        links=IdentityLinks(_table(app, _LINKS, kafka.partitions, store_options)),
        sweeper=Sweeper(
            seen, _rocksdb_slice(seen_table), settings.sweep_every, settings.sweep_slice
        ),
        metrics=metrics,
        entry_wait_ms=settings.entry_wait_ms,
        entries_end=lambda partition: app.consumer.highwater(TP(topics.ENTRIES, partition)),
        triggers=_follow_workflow_definitions(app, kafka, settings.app_id, metrics),
    )
    gaps = RawGaps(kafka, settings.app_id, topics.RAW)
    app.add_dependency(_StartedBeforeTheAgents(gaps))

    @app.agent(_raw_topic(app, topics.ENTRIES), name="headwater.entries")
    async def follow_entries(stream: faust.StreamT) -> None:
        with exit_on_failure("headwater.entries"):
            async for record in stream.events():
                message = record.message
                entries.apply(message.partition, message.offset, message.key, message.value)

    @app.agent(_raw_topic(app, topics.RAW), name="headwater.raw-to-events")
    async def raw_to_events(stream: faust.StreamT) -> None:
        with exit_on_failure("headwater.raw-to-events"):
            async for record in stream.events():
                message = record.message
                generation = app.consumer_generation_id
                missed = await gaps.missed(message.partition, message.offset, generation)
                if missed is None:
                    continue  # delivered again after a rebalance; already handled
                for raw in (*missed, message):
                    for outgoing in await chain.handle(raw):
                        await _send(app, outgoing)

    return app


def _follow_workflow_definitions(
    app: faust.App, kafka: KafkaSettings, app_id: str, metrics: ComponentMetrics
) -> WorkflowTriggers:
    """The Embed Workflow API's definitions, replicated here for the workflow triggers the
    processing chain matches; `headwater_workflows_published` shows how many it knows."""
    changes = WorkflowChanges()
    definitions = DefinitionReplica(kafka, f"{app_id}-workflows", changes.saw)
    app.add_dependency(_StartedBeforeTheAgents(definitions))
    Gauge(
        "headwater_workflows_published",
        "Published workflows in this process's replica of the definitions.",
        registry=metrics.registry,
    ).set_function(lambda: definitions.state.published_count())
    return WorkflowTriggers(definitions, changes, metrics)


async def _send(app: faust.App, outgoing: Outgoing) -> None:
    """Queue a record on faust's producer, which the consumer flushes before it commits raw
    offsets. faust's `Topic.send` does the same through a FutureMessage and its callbacks,
    about 45 µs a record more here (docs/performance.md, "Processors performance")."""
    queued = await app.producer.send(
        outgoing.topic, outgoing.key, outgoing.value, outgoing.partition, None, outgoing.headers
    )
    delivery = cast("asyncio.Future[RecordMetadata]", queued)  # aiokafka's own future
    delivery.add_done_callback(exit_unless_delivered)


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


def _rocksdb_slice(table: TableT[bytes, bytes]) -> StoredSlice:
    """Reads a table's stored pairs one partition at a time, for the dedupe `Sweeper`.

    faust has no public way to walk one partition's keys from a given key: `Table.items()` walks
    every active partition from the start. So this reaches into faust-streaming 0.15.3's RocksDB
    store (`faust/stores/rocksdb.py`: the private `Store._db_for_partition`, a rocksdict `Rdict`)
    and skips faust's own bookkeeping keys; it is the only place that does."""

    def read(
        partition: int, start: bytes | None, limit: int
    ) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        store = table.data  # made when first used, as faust makes it
        assert isinstance(store, RocksDBStore), "the app is created with store='rocksdb://'"
        iterator = store._db_for_partition(partition).iter()
        if start is None:
            iterator.seek_to_first()
        else:
            iterator.seek(start)
        items: list[tuple[bytes, bytes]] = []
        while iterator.valid() and len(items) < limit:
            key = iterator.key()
            if not key.startswith(_FAUST_KEY_PREFIX):
                items.append((key, iterator.value()))
            iterator.next()
        return items, iterator.key() if iterator.valid() else None

    return read


class _StartedBeforeTheAgents(Service):  # type: ignore[misc]
    """Runs a `Lifecycle` object's `start()` before the agents take a record and its `stop()`
    after they have stopped.

    faust has no start/stop hook with that order but a service of its own: mode starts a
    service's dependencies in the order they were added and stops them in reverse, and one added
    in `create_app` comes before the consumer and agents faust adds when the app starts
    (`App.on_init_dependencies`). `on_startup_finished` runs after the streams have resumed, and
    `on_before_shutdown` before the agents stop (they may still be in a record)."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        super().__init__()
        self._lifecycle = lifecycle

    async def on_start(self) -> None:
        await self._lifecycle.start()

    async def on_stop(self) -> None:
        await self._lifecycle.stop()
