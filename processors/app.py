"""Wires the processing chain (`processors/chain.py`) into a faust-streaming app.

Two agents, co-partitioned (same partition counts, same keys, so faust gives partition N of both
topics to one worker):
- `headwater.entries` reads the compacted entries topic into the `entries` table, each entry on
  its rule partition; an entry a producer put elsewhere is sent there (`processors/place.py`);
- `headwater.raw-to-events` subscribes the raw topic, whose records faust's consumer hands
  over a fetch at a time (`runtime/faust_bulk.py`: faust's per-record delivery cost more than
  the chain); a task takes them in batches (about `_BATCH_MAX` records), hands each record to
  the chain (decode, place, dedupe, entry, identity, split, route, trigger) and
  sends what it returns: the event to the events partition of the raw record's number and the
  command for the workflow engine it makes, if any; or a dead letter; or, for a record off the
  partition rule, its copy for its rule partition of the raw topic. A batch's outputs and its
  table changes are sent together, and its raw records are acknowledged (so committed) only
  once Kafka has acknowledged all of them: faust's per-record send and table write were most of
  the worker's CPU (docs/performance.md, "Processors: cost per event").

State is in faust tables on RocksDB, each with its changelog topic: `seen` (dedupe), `links`
(anonymous id -> user), `entries` and `entry_aliases` (oddly keyed entries). The chain writes
`seen` and `links` a batch at a time (`processors/batches.py`); faust restores all four from
their changelogs, and keeps the standbys. Processing is at
least once toward Kafka and deterministic on replay, and the sink skips outputs whose raw record
already passed: exactly once in effect (docs/pipeline.md, "Delivery guarantees"). This module
holds what is faust's: topics, tables, agents, sending, and the worker's exit when a record could
be committed past unhandled. The worker also follows the Embed Workflow API's definitions
(runtime/definition_replica.py), for the chain's trigger step (processors/triggers.py). A command
is sent with its event, so it is in Kafka before the raw record's offset is committed.
"""

import logging
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import faust
from faust.types import TableT
from prometheus_client import Gauge

from processors.batches import Batch, BatchTable, Cursor
from processors.chain import Chain
from processors.dedupe import SeenSet, StoredSlice, Sweeper
from processors.entry_index import EntryIndex
from processors.identity import IdentityLinks
from processors.place import EntryPlacement, Reroutes, Rule
from processors.records import Outgoing
from processors.settings import ProcessorSettings
from processors.triggers import WorkflowChanges, WorkflowTriggers
from runtime.definition_replica import DefinitionReplica
from runtime.faust_bulk import Chunk, bulk_records
from runtime.settings import KafkaSettings
from runtime.streams import (
    StartedBeforeTheAgents,
    acknowledge,
    exit_on_failure,
    iterate_from,
    partition_store,
    raw_topic,
    rocksdb_options,
    send,
    table,
    worker_app,
)
from runtime.telemetry import ComponentMetrics
from schemas import topics

__all__ = ["changelog_topics", "create_app"]

log = logging.getLogger(__name__)

_SEEN, _LINKS, _ENTRIES, _ALIASES = "seen", "links", "entries", "entry_aliases"  # faust tables
# raw records processed together: their outputs and table writes sent together, acked together
_BATCH_MAX = 2_000


def create_app(
    settings: ProcessorSettings, kafka: KafkaSettings, data_dir: Path, metrics: ComponentMetrics
) -> faust.App:
    app = worker_app(
        settings.app_id,
        kafka,
        data_dir / "processors",
        producer_linger=0.01,
        producer_max_batch_size=262_144,
    )
    store_options = rocksdb_options(
        settings.rocksdb_write_buffer_mb, settings.rocksdb_block_cache_mb
    )
    cursor = Cursor()
    seen_table = table(app, _SEEN, kafka.partitions, store_options)
    seen_batch = _batch_table(seen_table, settings.app_id, _SEEN, cursor)
    links = _batch_table(
        table(app, _LINKS, kafka.partitions, store_options), settings.app_id, _LINKS, cursor
    )
    batch = Batch([seen_batch, links])
    seen = SeenSet(seen_batch, settings.dedupe_window_s * 1000)
    entries = EntryIndex(table(app, _ENTRIES, kafka.partitions, store_options))
    reroutes = Reroutes(metrics)
    placement = EntryPlacement(
        entries,
        table(app, _ALIASES, kafka.partitions, store_options),
        Rule(_partition_count(app, kafka, topics.ENTRIES), reroutes),
    )
    chain = Chain(
        seen=seen,
        entries=entries,
        links=IdentityLinks(links),
        sweeper=Sweeper(
            seen, _rocksdb_slice(seen_table), settings.sweep_every, settings.sweep_slice
        ),
        metrics=metrics,
        entry_wait_ms=settings.entry_wait_ms,
        entries_ends=lambda: _ends(app, topics.ENTRIES),
        triggers=_follow_workflow_definitions(app, kafka, settings.app_id, metrics),
        rule=Rule(_partition_count(app, kafka, topics.RAW), reroutes),
    )
    raw = bulk_records(app, frozenset({topics.RAW}))

    @app.agent(raw_topic(app, topics.ENTRIES), name="headwater.entries")
    async def follow_entries(stream: faust.StreamT) -> None:
        with exit_on_failure("headwater.entries"):
            async for record in stream.events():
                if (copy := placement.take(record.message)) is not None:
                    await _send(app, copy)

    @app.agent(raw_topic(app, topics.RAW), name="headwater.raw-to-events")
    async def subscribe_raw(stream: faust.StreamT) -> None:
        """Subscribes the raw topic: faust assigns its partitions (with the tables' partitions
        of the same numbers); its records go to `raw` in bulk and never reach this stream."""
        async for _ in stream:
            pass

    @app.task
    async def raw_to_events() -> None:
        with exit_on_failure("headwater.raw-to-events"):
            while True:
                chunks = await raw.batch(_BATCH_MAX)
                with raw.handling():
                    await _handle(app, chain, cursor, batch, chunks)

    return app


async def _handle(
    app: faust.App,
    chain: Chain,
    cursor: Cursor,
    batch: Batch,
    chunks: list[Chunk],
) -> None:
    """Handle a batch of raw records, send what they became, then acknowledge them. A rebalance
    while the chain ran (an entry wait, a trigger) drops the batch, table writes included: the
    records are read again from the commit by whoever owns their partitions now."""
    generation = app.consumer_generation_id
    outgoing: list[Outgoing] = []
    for chunk in chunks:
        cursor.partition = chunk.tp.partition
        for record in chunk.records:
            outgoing.extend(await chain.handle(record))
    if app.consumer_generation_id != generation:
        batch.discard()
        return
    await _send_batch(app, outgoing, batch)
    for chunk in chunks:
        acknowledge(app, chunk.tp, chunk.records[0].offset, chunk.records[-1].offset)


async def _send_batch(app: faust.App, outgoing: list[Outgoing], batch: Batch) -> None:
    """Send a batch's outputs and its tables' changelog records, and wait until Kafka has them
    all: only then are the batch's raw records acknowledged, so no commit passes a
    record whose outputs or state are not in Kafka. A failed delivery ends the worker."""
    changes = batch.close()
    deliveries = [
        await app.producer.send(record.topic, record.key, record.value, record.partition, None,
                                record.headers)
        for record in (*outgoing, *changes)
    ]  # fmt: skip
    acknowledged = [await delivery for delivery in deliveries]
    batch.acknowledged(changes, [meta.offset for meta in acknowledged[len(outgoing) :]])


def _batch_table(
    store_table: TableT[bytes, bytes], app_id: str, name: str, cursor: Cursor
) -> BatchTable:
    return BatchTable(store_table, _changelog(app_id, name), cursor)


async def _send(app: faust.App, outgoing: Outgoing) -> None:
    await send(
        app, outgoing.topic, outgoing.key, outgoing.value, outgoing.partition, outgoing.headers
    )


def _partition_count(app: faust.App, kafka: KafkaSettings, topic: str) -> Callable[[], int]:
    """The topic's partition count as the consumer's metadata has it (the broker's, which the
    gateway's producer also reads), or the configured count before the consumer has any."""
    return lambda: app.consumer.topic_partitions(topic) or kafka.partitions


async def _ends(app: faust.App, topic: str) -> dict[int, int | None]:
    """The end offset of each partition of `topic` this worker holds, asked of the broker."""
    held = [tp for tp in app.consumer.assignment() if tp.topic == topic]
    return {tp.partition: end for tp, end in (await app.consumer.highwaters(*held)).items()}


def _follow_workflow_definitions(
    app: faust.App, kafka: KafkaSettings, app_id: str, metrics: ComponentMetrics
) -> WorkflowTriggers:
    """The Embed Workflow API's definitions, replicated here for the workflow triggers the
    processing chain matches; `headwater_workflows_published` shows how many it knows."""
    changes = WorkflowChanges()
    definitions = DefinitionReplica(kafka, f"{app_id}-workflows", changes.saw)
    app.add_dependency(StartedBeforeTheAgents(definitions))
    Gauge(
        "headwater_workflows_published",
        "Published workflows in this process's replica of the definitions.",
        registry=metrics.registry,
    ).set_function(lambda: definitions.state.published_count())
    return WorkflowTriggers(definitions, changes, metrics)


def changelog_topics(app_id: str) -> list[str]:
    """The changelog topic of each table, named as faust names them."""
    return [_changelog(app_id, table) for table in (_SEEN, _LINKS, _ENTRIES, _ALIASES)]


def _changelog(app_id: str, table: str) -> str:
    return f"{app_id}-{table}-changelog"


def _rocksdb_slice(table: TableT[bytes, bytes]) -> StoredSlice:
    """Reads a table's stored pairs one partition at a time, from a given key, for the dedupe
    `Sweeper` (runtime.streams.partition_store says why this reaches into faust's store)."""

    def read(
        partition: int, start: bytes | None, limit: int
    ) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        pairs = iterate_from(partition_store(table, partition), start)
        items = list(islice(pairs, limit))
        following = next(pairs, None)
        return items, following[0] if following is not None else None

    return read
