"""Wires the executor (`engine/executor.py`) into a faust-streaming app.

One agent reads `headwater.workflow-commands` and `headwater.workflow-signals` together: they are
co-partitioned (same partition counts, and a signal is keyed like the command that started its
execution), so faust gives partition N of both to one worker, with partition N of every table.
The agent is the only writer of the state; the ticker (due timers) and the sender (webhook
attempts) read the stores and answer through the log as signals.

State is in faust tables on RocksDB, each with its changelog topic (engine/state.py), so a
partition moved to another worker, or a worker restarted on an empty disk, finds every execution
and timer. Processing is at least once and the executor is deterministic on replay: a repeated
command or signal changes nothing twice (engine/executor.py). faust can pass over a record when a
rebalance interrupts its delivery, and commit past it: the agent checks each partition's offsets
(`runtime.gaps.OffsetGaps`), applies any record it was not given first, and acknowledges it to
faust (`runtime.streams.acknowledge`): faust does not always count what it skipped as a gap, and
then would never commit past it.
"""

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.types import TableT
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError

from engine.executor import Effects, Executor
from engine.retries import RetryPolicy
from engine.sender import Sender
from engine.settings import EngineSettings
from engine.state import TABLES, TableName, Timer, parse_timer_key
from engine.tables import FaustState
from engine.ticker import Ticker
from engine.webhooks import WebhookSender
from runtime.gaps import OffsetGaps
from runtime.settings import KafkaSettings
from runtime.streams import (
    ConsumedRecord,
    StartedBeforeTheAgents,
    acknowledge,
    exit_on_failure,
    partition_store,
    raw_topic,
    rocksdb_options,
    send,
    table,
    worker_app,
)
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.dead_letter import DeadLetter, reason_for
from schemas.executions import Signal
from schemas.workflows import Command

__all__ = ["changelog_topics", "create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: EngineSettings,
    kafka: KafkaSettings,
    data_dir: Path,
    metrics: ComponentMetrics,
    master_key: str,
) -> faust.App:
    app = worker_app(settings.app_id, kafka, data_dir / "engine", producer_linger=0.005)
    tables = _tables(app, settings, kafka.partitions)
    executor = Executor(settings.zone, settings.keep_ended_s * 1000)
    observed = _Metrics(metrics, tables["timers"], app)

    async def signal(key: bytes, record: Signal) -> None:
        await app.producer.send(topics.WORKFLOW_SIGNALS, key, record.encode(), None, None, None)

    def read_execution(partition: int, execution_id: str) -> bytes | None:
        value: bytes | None = partition_store(tables["executions"], partition).get(
            execution_id.encode()
        )
        return value

    sender = Sender(
        WebhookSender(settings, master_key),
        RetryPolicy(
            settings.webhook_max_attempts, settings.webhook_backoff_base_s,
            settings.webhook_backoff_cap_s, settings.webhook_retry_after_cap_s,
        ),
        read_execution, signal, observed.attempts,
    )  # fmt: skip

    async def fire(partition: int, key: bytes, timer: Timer) -> bool:
        if timer.kind == "send":
            return await sender.attempt(partition, key, timer)
        await signal(timer.key.encode(), _wake(key))
        return True

    ticker = Ticker(
        tables["timers"], lambda: _active(app), lambda: app.in_recovery or app.rebalancing,
        fire, settings.tick_ms, settings.fire_rate, max(30.0, 2 * settings.webhook_timeout_s),
        observed.lateness,
    )  # fmt: skip
    app.add_dependency(StartedBeforeTheAgents(sender))
    app.add_dependency(StartedBeforeTheAgents(ticker))

    gaps = OffsetGaps(kafka, settings.app_id)
    app.add_dependency(StartedBeforeTheAgents(gaps))

    async def apply(record: ConsumedRecord) -> None:
        state = FaustState(tables, record.partition, ticker)
        effects = _handle(executor, state, record, observed)
        for topic, key, value in effects.records:
            await send(app, topic, key, value)
        for key, timer in effects.sends:
            ticker.fire_now(record.partition, key, timer)

    @app.agent(raw_topic(app, topics.WORKFLOW_COMMANDS, topics.WORKFLOW_SIGNALS), name="engine")
    async def run(stream: faust.StreamT) -> None:
        with exit_on_failure("headwater.engine"):
            async for event in stream.events():
                message = event.message
                missed = await gaps.missed(
                    message.topic, message.partition, message.offset, app.consumer_generation_id
                )
                for record in () if missed is None else (*missed, message):
                    await apply(record)
                if missed:
                    acknowledge(app, message.tp, missed[0].offset, missed[-1].offset)

    return app


def _tables(
    app: faust.App, settings: EngineSettings, partitions: int
) -> dict[TableName, TableT[bytes, bytes]]:
    options = rocksdb_options(settings.rocksdb_write_buffer_mb, settings.rocksdb_block_cache_mb)
    stats_changelog = app.topic(
        topics.WORKFLOW_STATS, key_serializer="raw", value_serializer="raw", compacting=True
    )
    extra: dict[TableName, dict[str, Any]] = {"stats": {"changelog_topic": stats_changelog}}
    return {name: table(app, name, partitions, options, **extra.get(name, {})) for name in TABLES}


def changelog_topics(app_id: str) -> list[str]:
    """The changelog topic of each table, named as faust names them (`stats` has ours)."""
    return [f"{app_id}-{name}-changelog" for name in TABLES if name != "stats"]


def _handle(
    executor: Executor, state: FaustState, message: ConsumedRecord, observed: "_Metrics"
) -> Effects:
    """The executor's effects for one record; a record that is not one is a dead letter."""
    key = message.key or b""
    try:
        record: Command | Signal = (
            Command.model_validate_json(message.value or b"")
            if message.topic == topics.WORKFLOW_COMMANDS
            else Signal.model_validate_json(message.value or b"")
        )
        effects = executor.handle(state, key, record, int(time.time() * 1000))
    except ValidationError as exc:
        return _set_aside(message, reason_for(exc), str(exc))
    except Exception as exc:  # a bug must not stop every execution behind this record
        log.exception("engine failed on a record", extra={"offset": message.offset})
        return _set_aside(message, "processing_failed", repr(exc))
    observed.count(effects)
    return effects


def _set_aside(message: ConsumedRecord, reason: str, detail: str) -> Effects:
    letter = DeadLetter.of_record(
        reason, detail, "engine", message.topic, message.partition, message.offset,  # type: ignore[arg-type]
        message.key, message.value,
    )  # fmt: skip
    return Effects(records=[(topics.DEAD_LETTER, message.key or b"", letter.encode())])


def _wake(timer_key: bytes) -> Signal:
    due_ms, execution_id, node_id = parse_timer_key(timer_key)
    return Signal(type="wake", execution_id=execution_id, node_id=node_id, at=_now(), due_ms=due_ms)


def _now() -> datetime:
    return datetime.now(UTC)


def _active(app: faust.App) -> set[int]:
    """The partitions this worker is active for (standbys only follow changelogs)."""
    return {
        tp.partition
        for tp in app.assignor.assigned_actives()
        if tp.topic == topics.WORKFLOW_COMMANDS
    }


class _Metrics:
    """The engine's Prometheus series, besides the components' common counters."""

    def __init__(
        self, metrics: ComponentMetrics, timers: TableT[bytes, bytes], app: faust.App
    ) -> None:
        registry = metrics.registry
        self.started = Counter(
            "headwater_workflow_executions_started", "Executions started.", registry=registry
        )
        self.dead_letters = Counter(
            "headwater_workflow_dead_letters",
            "Webhooks set aside after their last attempt (webhook_failed).",
            registry=registry,
        )
        self.attempts = Counter(
            "headwater_webhook_attempts", "Webhook attempts, by outcome.", ["outcome"],
            registry=registry,
        )  # fmt: skip
        self.lateness = Histogram(
            "headwater_workflow_timer_lateness_seconds",
            "How long after its due time a timer fired.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600),
            registry=registry,
        )
        Gauge(
            "headwater_workflow_timers_pending",
            "Timers waiting on this worker's partitions (RocksDB's estimate).",
            registry=registry,
        ).set_function(lambda: _pending(timers, _active(app)))

    def count(self, effects: Effects) -> None:
        self.started.inc(effects.started)
        self.dead_letters.inc(effects.dead_letters)


def _pending(timers: TableT[bytes, bytes], partitions: set[int]) -> int:
    return sum(
        partition_store(timers, p).property_int_value("rocksdb.estimate-num-keys") or 0
        for p in partitions
    )
