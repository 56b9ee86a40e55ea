"""Throughput and state of ONE processor worker: records produced to headwater.raw first, then a
fresh `headwater process` timed from its first output (or its first record moved back to
headwater.raw, when records are off the partition rule) until headwater.events holds every
distinct event (end offsets polled every 50 ms, as a delta from before the run).

Also measured over the same span: the worker's CPU (/proc) per input record and who else used the
cores; after the run, its `seen` and `links` RocksDB files, the seen changelog on a local broker,
and its RSS at its first output and at the end.
"""

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import CpuShare, snapshot
from bench.environment import BenchEnvironment, progress
from bench.kafka import EndOffsets
from bench.processors.triggers import published_workflows
from bench.processors.worker import (
    StateSize,
    WorkerSetup,
    changelog_bytes,
    log_problems,
    rss_bytes,
    running_worker,
    state_size,
    worker_setup,
)
from bench.processors.workload import produce_all, workload
from bench.profiling import py_spy
from headwater.stack.process import log_tail
from schemas import topics
from tests.kafka import commit_group_at_end

__all__ = ["STALL_TIMEOUT_S", "STARTUP_TIMEOUT_S", "Drain", "drain", "fail", "wait_outputs"]

STARTUP_TIMEOUT_S = 120.0
STALL_TIMEOUT_S = 60.0
FIRST_POLL_S = 0.01
POLL_S = 0.05
ACTIVITY = (topics.EVENTS, topics.RAW)  # the worker's first output, or its first record moved


@dataclass(frozen=True)
class Drain:
    records: int
    distinct: int
    outputs: int
    dead_letters: int
    startup_s: float
    """From the worker's start until its first output."""
    seconds: float
    """From its first output until every distinct event was on headwater.events."""
    cpu: CpuShare
    """Cores used over `seconds`, by the worker, the broker, the benchmark and the rest."""
    rss_first: int
    rss_done: int
    seen_running: StateSize
    seen_stopped: StateSize
    links_stopped: StateSize
    changelog: int | None
    linked_visitors: int
    problems: Counter[str]
    """The worker's log lines at warning or above, by message."""
    workflows: int = 0
    """Published workflows in the records' project (on other event names) during the run."""
    off_rule: float = 0.0
    """The share of records produced off their rule partition, moved there by the worker."""

    @property
    def events_per_s(self) -> float:
        return self.records / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu.worker * self.seconds / self.records * 1e6


def fail(what: str, setup: WorkerSetup) -> SystemExit:
    """Fail the benchmark with the worker's log, kept past the cleanup of the data folder."""
    kept = Path(tempfile.gettempdir()) / f"{setup.app_id}.log"
    shutil.copyfile(setup.log, kept)
    return SystemExit(
        f"{what}\n--- last lines of the worker's log ({kept}) ---\n{log_tail(kept, 40)}"
    )


async def wait_outputs(
    ends: EndOffsets,
    worker: subprocess.Popen[bytes],
    setup: WorkerSetup,
    base: int,
    target: int,
    poll_s: float = POLL_S,
    stall_s: float = STALL_TIMEOUT_S,
    watched: tuple[str, ...] = (topics.EVENTS,),
) -> float:
    """Poll the `watched` topics until `target` records past `base` (their summed end offsets)
    are there; the monotonic time it saw them. Fails if the worker exits or adds nothing for
    `stall_s`."""
    seen, changed = -1, time.monotonic()
    while True:
        count = sum([await ends.total(topic) for topic in watched]) - base
        now = time.monotonic()
        if count >= target:
            return now
        if worker.poll() is not None:
            raise fail(f"the worker exited with {worker.returncode}", setup)
        if count != seen:
            seen, changed = count, now
        elif now - changed > stall_s:
            raise fail(f"no new output for {stall_s:.0f} s: {count:,} of {target:,}", setup)
        await asyncio.sleep(poll_s)


async def drain(
    bench: BenchEnvironment,
    root: Path,
    events: int,
    run: int,
    spy: Path | None,
    workflows: int = 0,
    off_rule: float = 0.0,
) -> Drain:
    """Produce `events` records (an `off_rule` share of them off their rule partition), then time
    one fresh worker through them (under py-spy, into `spy`, when given), with `workflows`
    published in the records' project meanwhile."""
    broker = bench.service_pids.get("kafka")
    setup = worker_setup(bench.env, root, f"run{run}-wf{workflows}-off{round(off_rule * 100)}")
    project = f"bench-{setup.app_id}"
    await commit_group_at_end(bench.bootstrap, setup.app_id, topics.RAW)
    async with (
        EndOffsets(bench.bootstrap) as ends,
        published_workflows(bench.bootstrap, project, workflows),
    ):
        partitions = len(await ends.of(topics.RAW))
        load = workload(project, events, partitions, seed=run, off_rule=off_rule)
        progress(f"run {run}: producing {events:,} records ({load.distinct:,} distinct)")
        await produce_all(bench.bootstrap, load.records)
        base, dead = await ends.total(topics.EVENTS), await ends.total(topics.DEAD_LETTER)
        written = base + await ends.total(topics.RAW)  # a copy moved to its rule partition counts
        progress(f"run {run}: starting the worker ({setup.app_id})")
        with running_worker(setup) as worker:
            started = time.monotonic()
            first = await wait_outputs(
                ends, worker, setup, written, 1, FIRST_POLL_S, STARTUP_TIMEOUT_S, ACTIVITY
            )
            cpu, rss_first = snapshot(worker.pid, broker), rss_bytes(worker.pid)
            with py_spy(worker.pid, spy) if spy else nullcontext():
                done = await wait_outputs(ends, worker, setup, base, load.distinct)
            cpu_share = CpuShare.between(cpu, snapshot(worker.pid, broker))
            rss_done = rss_bytes(worker.pid)
            await asyncio.sleep(1.0)  # any output beyond the distinct events would show now
            outputs = await ends.total(topics.EVENTS) - base
            dead = await ends.total(topics.DEAD_LETTER) - dead
            seen_running = state_size(setup.data_dir, "seen")
        if worker.returncode != 0:
            raise fail(f"the worker exited with {worker.returncode} on SIGTERM", setup)
    kafka_home = bench.data_dir / "kafka" if "kafka" in bench.service_pids else None
    return Drain(
        events, load.distinct, outputs, dead, first - started, done - first, cpu_share,
        rss_first, rss_done, seen_running,
        state_size(setup.data_dir, "seen"), state_size(setup.data_dir, "links"),
        changelog_bytes(kafka_home, setup.app_id, "seen") if kafka_home else None,
        load.linked_visitors, log_problems(setup.log), workflows, off_rule,
    )  # fmt: skip
