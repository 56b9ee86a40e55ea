"""Pending delays: `count` executions parked on a one-day Delay, what taking them in costs one
worker, and what holding them costs it in memory and on disk, before and after a restart.

The commands are produced first (straight to headwater.workflow-commands, in whole batches, as
the processors record `event` commands: distinct request ids and persons, keyed and partitioned
as they are), then a fresh `headwater engine` is timed from its first started execution until
it has started them all (its `headwater_workflow_executions_started_total`, polled every
POLL_S, its memory sampled at each poll). Then it is stopped (SIGTERM), its RocksDB folder and
changelog segments measured, one more command produced, and the worker started again on the
same data folder: ready is when it has started that command (recovery and catching up done).
"""

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from bench.cpu import CpuShare, snapshot
from bench.engine.arrivals import SHARED_TOPICS, engine_topics, record_counts
from bench.engine.worker import (
    EngineSetup,
    Memory,
    Scrape,
    changelog_bytes,
    directory_bytes,
    engine_setup,
    memory,
    running_engine,
    scrape,
    wait_scrape,
)
from bench.environment import BenchEnvironment, progress
from bench.kafka import EndOffsets, Record, batch_producer, send_in_batches
from bench.profiling import py_spy
from schemas import topics
from schemas.workflows import Command, Start
from tests.kafka import commit_group_at_end

__all__ = ["Pending", "commands", "pending"]

POLL_S = 1.0
STARTUP_TIMEOUT_S = 300.0
STALL_TIMEOUT_S = 120.0
SETTLE_S = 5.0
CHUNK = 50_000
ESTIMATE_AT = 50_000
PROJECT = "bench-engine"
UNREACHED_URL = "http://127.0.0.1:9/hook"
"""The webhook after the day's delay: never reached while the benchmark runs."""


@dataclass(frozen=True)
class Pending:
    commands: int
    startup_s: float
    """From the worker's start until its first started execution."""
    seconds: float
    """From its first started execution until it had started them all."""
    cpu: CpuShare
    memory_at: list[tuple[float, Memory]]
    """(executions started, memory) at each poll."""
    rocksdb: int
    changelogs: int | None
    """None on an external broker (its files are not ours to read)."""
    records: dict[str, int]
    """Records the worker wrote while taking the commands in, by topic."""
    ready_s: float
    """After the restart: from the worker's start until it started the command produced then."""
    after_restart: Memory
    timers_after_restart: float

    @property
    def per_s(self) -> float:
        return self.commands / self.seconds

    @property
    def cpu_us_per_command(self) -> float:
        return self.cpu.worker * self.seconds / self.commands * 1e6

    @property
    def peak(self) -> int:
        return max(sample.peak for _, sample in self.memory_at)

    @property
    def final(self) -> Memory:
        return self.memory_at[-1][1]


def _template() -> dict[str, Any]:
    """Start -> Delay(1 day) -> Webhook."""
    hook = {"id": "hook", "type": "Webhook", "url": UNREACHED_URL, "params": "n: {{ event.id }}"}
    delay = {"id": "wait", "type": "Delay", "delay_n": 1, "delay_unit": "day"}
    nodes = [{"id": "start", "type": "Start"}, delay, hook]
    return {"nodes": nodes, "edges": ["start-wait", "wait-hook"]}


def commands(count: int, partitions: int, run: str) -> Iterator[Record]:
    """`count` event commands, each starting one execution, with the execution data the processors
    give an event (runtime/triggers.py), keyed and partitioned as they produce them."""
    now = datetime.now(UTC)
    start = Start(workflow_id=f"wf-{run}", version=1, user_key="main", template=_template(),
                  stop_event="bench_cancelled")  # fmt: skip
    base = Command(type="event", request_id="-", project_id=PROJECT, environment="live",
                   user_key="-", at=now, event="bench_signup", starts=[start])  # fmt: skip
    partitioner, ids = DefaultPartitioner(), list(range(partitions))
    for n in range(count):
        event_id, person = f"{run}-{n}", f"person-{run}-{n}"
        data = {
            "event": {"id": event_id, "name": "bench_signup", "time": now.isoformat(),
                      "url": "https://app.example.com/signup", "properties": {"plan": "pro"},
                      "metrics": {}, "dimensions": {}},
            "person": {"id": person, "user_id": person, "anonymous_id": None, "properties": {}},
        }  # fmt: skip
        command = base.model_copy(
            update={"request_id": event_id, "user_key": person, "execution_data": data}
        )
        key = command.kafka_key()
        yield Record(key, command.encode(), partitioner(key, ids, ids))


async def _produce(bootstrap: str, records: Iterator[Record]) -> None:
    async with batch_producer(bootstrap) as producer:
        while chunk := list(islice(records, CHUNK)):
            await send_in_batches(producer, topics.WORKFLOW_COMMANDS, chunk)


async def pending(
    bench: BenchEnvironment, root: Path, count: int, spy: Path | None = None
) -> Pending:
    """Produce `count` commands, then time a fresh worker through them (under py-spy into `spy`,
    when given); measure its files, restart it."""
    setup = engine_setup(bench.env, root, "pending")
    command_topics = (topics.WORKFLOW_COMMANDS, topics.WORKFLOW_SIGNALS)
    await commit_group_at_end(bench.bootstrap, setup.app_id, *command_topics)
    async with EndOffsets(bench.bootstrap) as ends:
        partitions = len(await ends.of(topics.WORKFLOW_COMMANDS))
    run = uuid.uuid4().hex[:8]
    progress(f"pending: producing {count:,} commands (Start -> Delay 1 day -> Webhook)")
    await _produce(bench.bootstrap, commands(count, partitions, run))
    broker, names = bench.service_pids.get("kafka"), engine_topics(setup.app_id)
    records = await record_counts(bench.bootstrap, list(SHARED_TOPICS))  # changelogs: new
    with running_engine(setup) as engine:
        started = time.monotonic()
        await _wait_started(setup, engine, 1, STARTUP_TIMEOUT_S, [])
        first, cpu = time.monotonic(), snapshot(engine.pid, broker)
        samples: list[tuple[float, Memory]] = []
        with py_spy(engine.pid, spy) if spy else nullcontext():
            await _wait_started(setup, engine, count, STALL_TIMEOUT_S, samples, first)
        done, cpu_share = time.monotonic(), CpuShare.between(cpu, snapshot(engine.pid, broker))
        written = await record_counts(bench.bootstrap, names)
    if engine.returncode != 0:
        raise setup.failed(f"the engine exited with {engine.returncode} on SIGTERM")
    kafka_home = bench.data_dir / "kafka" if "kafka" in bench.service_pids else None
    rocksdb = directory_bytes(setup.data_dir / "engine")
    changelogs = changelog_bytes(kafka_home, setup.app_id) if kafka_home else None
    ready_s, after, timers = await _restart(bench, setup, partitions)
    return Pending(
        count, first - started, done - first, cpu_share, samples, rocksdb, changelogs,
        {name: written[name] - records.get(name, 0) for name in names}, ready_s, after, timers,
    )  # fmt: skip


async def _restart(
    bench: BenchEnvironment, setup: EngineSetup, partitions: int
) -> tuple[float, Memory, float]:
    """Start the worker again on its data folder, one new command waiting for it: seconds until
    it started that one, its memory SETTLE_S later, and the timers it reports pending."""
    await _produce(bench.bootstrap, commands(1, partitions, f"restart-{uuid.uuid4().hex[:8]}"))
    progress("pending: restarting the worker on its data folder")
    with running_engine(setup) as engine:
        started = time.monotonic()
        await _wait_started(setup, engine, 1, STARTUP_TIMEOUT_S, [])
        ready_s = time.monotonic() - started
        progress(f"pending: ready again after {ready_s:.1f} s")
        await asyncio.sleep(SETTLE_S)
        after = memory(engine.pid)
        final = wait_scrape(setup, engine, STARTUP_TIMEOUT_S)
    return ready_s, after, final.pending


async def _wait_started(
    setup: EngineSetup,
    engine: subprocess.Popen[bytes],
    target: int,
    stall_s: float,
    samples: list[tuple[float, Memory]],
    since: float | None = None,
) -> Scrape:
    """Poll /metrics until `target` executions have started, appending (started, memory) to
    `samples` at each poll. Fails if the worker exits or starts nothing new for `stall_s`."""
    seen, changed, estimated = -1.0, time.monotonic(), since is None
    while True:
        current = scrape(setup)
        now = time.monotonic()
        if engine.poll() is not None:
            raise setup.failed(f"the engine exited with {engine.returncode}")
        count = current.started if current else 0.0
        samples.append((count, memory(engine.pid)))
        if count >= target and current is not None:
            return current
        if not estimated and since is not None and count >= min(ESTIMATE_AT, target):
            estimated = True
            rate = count / max(now - since, 1e-9)
            progress(
                f"pending: {rate:,.0f} commands/s; all {target:,} in ~{target / rate / 60:.0f} min"
            )
        if count != seen:
            seen, changed = count, now
        elif now - changed > stall_s:
            raise setup.failed(f"nothing started for {stall_s:.0f} s: {count:,.0f} of {target:,}")
        await asyncio.sleep(POLL_S)
