"""What the faust workers (the processors and the workflow engine) share: tables on RocksDB,
sending on faust's producer, reading a partition's store in key order, exiting before a commit
could pass a record unhandled, and starting our own services before the agents.
"""

import asyncio
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import faust
from aiokafka.structs import RecordMetadata
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP, TableT
from faust.types.tuples import ack_lock
from mode import Service
from mode.utils.futures import notify
from rocksdict import Rdict

from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle

__all__ = [
    "EXIT_RESTART",
    "ConsumedRecord",
    "Headers",
    "StartedBeforeTheAgents",
    "acknowledge",
    "exit_on_failure",
    "exit_unless_delivered",
    "iterate_from",
    "partition_store",
    "raw_topic",
    "rocksdb_options",
    "rocksdb_store",
    "send",
    "table",
    "worker_app",
]

log = logging.getLogger(__name__)

# Kafka headers as faust and aiokafka hand them over: (name, value) pairs, or a mapping.
Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


class ConsumedRecord(Protocol):
    """A record as a worker handles it: a faust `Message`, or an aiokafka `ConsumerRecord`
    (one faust skipped, read by `runtime.gaps.OffsetGaps`, or one of a fetch taken in bulk).
    Read-only properties, so both match."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers: ...


EXIT_RESTART = 75  # EX_TEMPFAIL: a supervisor should start the worker again
_MB = 1024 * 1024
_WRITE_BUFFERS = 2  # RocksDB memtables per table partition: one filling, one flushing
FAUST_KEY_PREFIX = b"__faust"  # faust keeps its own bookkeeping (offsets) in each RocksDB


def worker_app(app_id: str, kafka: KafkaSettings, data_dir: Path, **options: Any) -> faust.App:
    """A faust app as both workers run one: tables on RocksDB under `data_dir`, bytes in and
    out (keys and values are encoded by us), every record acknowledged by all replicas, new
    consumer groups reading from the start, no web server, a dead worker's partitions handed on
    after `kafka`'s session timeout (faust's default, 60 s, was the whole pause after a crash);
    `options` adds producer tuning."""
    return faust.App(
        app_id,
        broker=";".join(f"kafka://{host}" for host in kafka.bootstrap_servers.split(",")),
        store="rocksdb://",
        key_serializer="raw",
        value_serializer="raw",
        datadir=str(data_dir),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        broker_session_timeout=kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=kafka.heartbeat_interval_ms / 1000,
        broker_rebalance_timeout=kafka.rebalance_timeout_ms / 1000,
        **options,
    )


def rocksdb_options(write_buffer_mb: int, block_cache_mb: int) -> dict[str, int]:
    """Bounded memory per table partition (faust's defaults: 64 MB memtables, 2 GiB cache)."""
    return {
        "write_buffer_size": write_buffer_mb * _MB,
        "max_write_buffer_number": _WRITE_BUFFERS,
        "block_cache_size": block_cache_mb * _MB,
    }


def table(
    app: faust.App, name: str, partitions: int, options: dict[str, int], **extra: Any
) -> TableT[bytes, bytes]:
    """A table of bytes on RocksDB, each partition with its changelog partition."""
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        options=dict(options),  # faust's store pops keys from the dict it is given
        **extra,
    )


def raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, key_serializer="raw", value_serializer="raw")


def partition_store(store_table: TableT[bytes, bytes], partition: int) -> Rdict:
    """One partition's RocksDB, to read in key order from a given key.

    faust has no public way to walk one partition's keys: `Table.items()` walks every active
    partition from the start. So this reaches into faust-streaming 0.15.3's RocksDB store
    (`faust/stores/rocksdb.py`: the private `Store._db_for_partition`, a rocksdict `Rdict`); it
    is the only place that does, with `rocksdb_store`. Readers skip keys starting with
    `FAUST_KEY_PREFIX`."""
    return rocksdb_store(store_table)._db_for_partition(partition)


def rocksdb_store(store_table: TableT[bytes, bytes]) -> RocksDBStore:
    """The table's faust RocksDB store (made when first used, as faust makes it), for
    `partition_store` and for the persisted changelog offset its public methods keep."""
    store = store_table.data
    assert isinstance(store, RocksDBStore), "the app is created with store='rocksdb://'"
    return store


def iterate_from(db: Rdict, start: bytes | None) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of `db` from `start` (or its first key) on, faust's own keys left out."""
    iterator = db.iter()
    if start is None:
        iterator.seek_to_first()
    else:
        iterator.seek(start)
    while iterator.valid():
        key = iterator.key()
        if not key.startswith(FAUST_KEY_PREFIX):
            yield key, iterator.value()
        iterator.next()


async def send(
    app: faust.App,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Queue a record (`value=None`: a tombstone) on faust's producer, which the consumer
    flushes before it commits. faust's `Topic.send` does the same through a FutureMessage and
    its callbacks, about 45 µs a record more (docs/performance.md, "Processors performance")."""
    queued = await app.producer.send(topic, key, value, partition, None, headers)
    delivery = cast("asyncio.Future[RecordMetadata]", queued)  # aiokafka's own future
    delivery.add_done_callback(exit_unless_delivered)


def acknowledge(app: faust.App, tp: TP, first: int, last: int) -> None:
    """Records `first`..`last` of `tp`, handled but never delivered as faust messages (taken in
    bulk, or read where faust skipped them), are acknowledged as a stream acknowledges its
    messages: faust commits a partition only up to its first offset neither acknowledged nor
    counted in its gaps, so one left out would hold the partition's commit back for good. Offsets
    faust already holds, as acknowledged or as a gap, are not counted twice (a repeat would split
    its run of consecutive offsets)."""
    consumer: Any = app.consumer
    with ack_lock:
        committed = consumer._committed_offset[tp]
        acked = consumer._acked_index[tp]
        start = first if committed is None else max(first, committed)
        offsets = [offset for offset in range(start, last + 1) if offset not in acked]
        acked.update(offsets)
        consumer._acked[tp].extend(offsets)
        consumer._n_acked += len(offsets)
        if gaps := consumer._gap.get(tp):
            gaps.chop(start, last + 1)
        notify(consumer._waiting_for_ack)


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
    closes, and the next commit would pass it unprocessed. Exiting before any other task runs
    leaves it uncommitted for the worker's successor. Records that cannot be processed do not get
    here; they are dead letters."""
    try:
        yield
    except Exception as exc:
        _exit_before_commit(f"agent {agent} failed", exc)


def _exit_before_commit(what: str, error: BaseException) -> None:
    log.critical(f"{what}; exiting before the next commit", exc_info=error)
    os._exit(EXIT_RESTART)


class StartedBeforeTheAgents(Service):  # type: ignore[misc]
    """Runs a `Lifecycle` object's `start()` before the agents take a record and its `stop()`
    after they have stopped.

    faust has no start/stop hook with that order but a service of its own: mode starts a
    service's dependencies in the order they were added and stops them in reverse, and one added
    in `create_app` comes before the consumer and agents faust adds when the app starts
    (`App.on_init_dependencies`)."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        super().__init__()
        self._lifecycle = lifecycle

    async def on_start(self) -> None:
        await self._lifecycle.start()

    async def on_stop(self) -> None:
        await self._lifecycle.stop()
