"""How many events/s does ONE processor worker (`headwater process`) handle, what latency does it
add, and what does its dedupe state cost?

Everything runs on this machine: a broker this script starts through Headwater's own stack (or
the one `KAFKA_BOOTSTRAP` names), the worker, and this script's producer and offset polling. On a
2-core machine they all share two cores with the broker (and with whatever else runs: the load
average is printed), so the numbers are what one worker does beside its broker here, not on a
core of its own. Each worker gets a fresh app id (its consumer group, committed at the end of
headwater.raw, and its own changelog topics) and data folder, so it starts with empty state and
reads only its run's records; each workload is its own project, so no dedupe state can match
another run's.

- throughput: --events records (default 100,000; bench/raw_load.py: Vemetric, Usermaven and direct
  events, 10% exact re-sends, 5% identify calls) are produced to headwater.raw first; then one
  worker starts. Events/s = records / the time from its first output on headwater.events until
  headwater.events holds every distinct event (end offsets polled every 50 ms, as a delta from
  before the run). Worker CPU (/proc) over the same span, per input record. Median of --runs (3).
- state: after each run, the `seen` table's RocksDB files (and `links`, and the seen changelog on
  the local broker), and the worker's RSS at its first output and at the end; per million
  identities, extrapolated linearly when --events is under a million.
- latency: a fresh worker, caught up after a warm-up; records go out at --rate/s (default 1,000)
  for --seconds (20), open loop, no linger, acks=all. Added latency = each output record's Kafka
  timestamp - its raw record's (both CreateTime, ms resolution: the producer's clock, which is
  this machine's), matched by the `headwater-source` header. p50/p99/max. Both timestamps are
  taken when a producer accepts the record (ours, then the worker's), so the raw record's trip
  to the broker is in it and the output's trip is not.
- faust floor: the same records through a bare faust agent (bench/faust_floor.py) that only
  consumes them, then also sends each on, then also writes one table key per record: faust's own
  cost of the work every event needs, without any of Headwater's. Median of --runs each.
- profile: one more throughput run, not counted, with py-spy recording the worker; samples by
  area (faust/aiokafka, pydantic, RocksDB, our code) and the top functions by own + child time.

    make bench-processors
    make bench-processors ARGS="--events 1000000 --runs 1 --no-latency"
    .venv/bin/python bench/process.py --events 20000 --runs 1 --no-profile
"""

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from common import BenchEnvironment, bench_environment, progress
from cpu_share import CpuShare, snapshot
from faust_floor import MODES
from kafka_offsets import EndOffsets, output_timestamps
from process_report import (
    print_floor,
    print_latency,
    print_profile,
    print_state,
    print_throughput,
)
from raw_load import produce_all, produce_paced, workload
from worker import (
    StateSize,
    WorkerSetup,
    changelog_bytes,
    log_problems,
    py_spy,
    rss_bytes,
    running_worker,
    state_size,
    worker_setup,
)

from headwater.stack.process import log_tail
from schemas import topics
from tests.kafka import commit_group_at_end

__all__ = ["Drain", "Floor", "Latency", "main"]

STARTUP_TIMEOUT_S = 120.0
STALL_TIMEOUT_S = 60.0
FIRST_POLL_S = 0.01
POLL_S = 0.05
WARMUP_S = 3.0
FLOOR_SCRIPT = Path(__file__).with_name("faust_floor.py")


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
    """Cores used over `seconds`, by the worker, the broker, this script and the rest."""
    rss_first: int
    rss_done: int
    seen_running: StateSize
    seen_stopped: StateSize
    links_stopped: StateSize
    changelog: int | None
    linked_visitors: int
    problems: Counter[str]
    """The worker's log lines at warning or above, by message."""

    @property
    def events_per_s(self) -> float:
        return self.records / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu.worker * self.seconds / self.records * 1e6


@dataclass(frozen=True)
class Latency:
    rate: float
    records: int
    distinct: int
    send_s: float
    added_ms: list[int]
    cpu: CpuShare
    problems: Counter[str]


@dataclass(frozen=True)
class Floor:
    mode: str
    records: int
    seconds: float
    cpu_seconds: float

    @property
    def per_s(self) -> float:
        return self.records / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.records * 1e6


def _fail(what: str, setup: WorkerSetup) -> SystemExit:
    """Fail the benchmark with the worker's log, kept past the cleanup of the data folder."""
    kept = Path(tempfile.gettempdir()) / f"{setup.app_id}.log"
    shutil.copyfile(setup.log, kept)
    return SystemExit(
        f"{what}\n--- last lines of the worker's log ({kept}) ---\n{log_tail(kept, 40)}"
    )


async def _wait_outputs(
    ends: EndOffsets,
    worker: subprocess.Popen[bytes],
    setup: WorkerSetup,
    base: int,
    target: int,
    poll_s: float,
    stall_s: float,
) -> float:
    """Poll headwater.events until `target` records past `base` are there; the monotonic time it
    saw them. Fails if the worker exits or adds nothing for `stall_s`."""
    seen, changed = -1, time.monotonic()
    while True:
        count = await ends.total(topics.EVENTS) - base
        now = time.monotonic()
        if count >= target:
            return now
        if worker.poll() is not None:
            raise _fail(f"the worker exited with {worker.returncode}", setup)
        if count != seen:
            seen, changed = count, now
        elif now - changed > stall_s:
            raise _fail(f"no new output for {stall_s:.0f} s: {count:,} of {target:,}", setup)
        await asyncio.sleep(poll_s)


async def drain(
    bench: BenchEnvironment, root: Path, events: int, run: int, spy: Path | None
) -> Drain:
    """Produce `events` records, then time one fresh worker through them."""
    bootstrap, broker = bench.env["KAFKA_BOOTSTRAP"], bench.service_pids.get("kafka")
    setup = worker_setup(bench.env, root, f"run{run}")
    await commit_group_at_end(bootstrap, setup.app_id, topics.RAW)
    async with EndOffsets(bootstrap) as ends:
        partitions = len(await ends.of(topics.RAW))
        load = workload(f"bench-{setup.app_id}", events, partitions, seed=run)
        progress(f"run {run}: producing {events:,} records ({load.distinct:,} distinct)")
        await produce_all(bootstrap, load.records)
        base, dead = await ends.total(topics.EVENTS), await ends.total(topics.DEAD_LETTER)
        progress(f"run {run}: starting the worker ({setup.app_id})")
        with running_worker(setup) as worker:
            started = time.monotonic()
            first = await _wait_outputs(
                ends, worker, setup, base, 1, FIRST_POLL_S, STARTUP_TIMEOUT_S
            )
            cpu, rss_first = snapshot(worker.pid, broker), rss_bytes(worker.pid)
            with py_spy(worker.pid, spy) if spy else nullcontext():
                done = await _wait_outputs(
                    ends, worker, setup, base, load.distinct, POLL_S, STALL_TIMEOUT_S
                )
            cpu_share = CpuShare.between(cpu, snapshot(worker.pid, broker))
            rss_done = rss_bytes(worker.pid)
            await asyncio.sleep(1.0)  # any output beyond the distinct events would show now
            outputs = await ends.total(topics.EVENTS) - base
            dead = await ends.total(topics.DEAD_LETTER) - dead
            seen_running = state_size(setup.data_dir, "seen")
        if worker.returncode != 0:
            raise _fail(f"the worker exited with {worker.returncode} on SIGTERM", setup)
    kafka_home = bench.data_dir / "kafka" if "kafka" in bench.service_pids else None
    return Drain(
        events, load.distinct, outputs, dead, first - started, done - first, cpu_share,
        rss_first, rss_done, seen_running,
        state_size(setup.data_dir, "seen"), state_size(setup.data_dir, "links"),
        changelog_bytes(kafka_home, setup.app_id, "seen") if kafka_home else None,
        load.linked_visitors, log_problems(setup.log),
    )  # fmt: skip


async def latency(bench: BenchEnvironment, root: Path, rate: float, seconds: float) -> Latency:
    """Paced records through a caught-up worker; each output's delay after its raw record."""
    bootstrap, broker = bench.env["KAFKA_BOOTSTRAP"], bench.service_pids.get("kafka")
    setup = worker_setup(bench.env, root, "latency")
    await commit_group_at_end(bootstrap, setup.app_id, topics.RAW)
    async with EndOffsets(bootstrap) as ends:
        partitions = len(await ends.of(topics.RAW))
        warm = workload(f"bench-{setup.app_id}-warm", int(rate * WARMUP_S), partitions, seed=90)
        load = workload(f"bench-{setup.app_id}", int(rate * seconds), partitions, seed=91)
        with running_worker(setup) as worker:
            base = await ends.total(topics.EVENTS)
            progress(f"latency: warm-up, {WARMUP_S:.0f} s at {rate:,.0f}/s")
            await produce_paced(bootstrap, warm.records, rate)
            await _wait_outputs(ends, worker, setup, base, warm.distinct, POLL_S, STARTUP_TIMEOUT_S)
            start = await ends.of(topics.EVENTS)
            progress(f"latency: {seconds:.0f} s at {rate:,.0f}/s")
            cpu = snapshot(worker.pid, broker)
            sent, send_s = await produce_paced(bootstrap, load.records, rate)
            cpu_share = CpuShare.between(cpu, snapshot(worker.pid, broker))
            stamps = await output_timestamps(bootstrap, start, load.distinct, STALL_TIMEOUT_S)
    added = [
        stamps[source] - meta.timestamp
        for meta in sent
        if (source := f"{meta.partition}:{meta.offset}".encode()) in stamps
    ]
    problems = log_problems(setup.log)
    return Latency(rate, len(load.records), load.distinct, send_s, added, cpu_share, problems)


async def faust_floor(bench: BenchEnvironment, root: Path, events: int, runs: int) -> list[Floor]:
    """The workload on a topic of its own, through bench/faust_floor.py in each mode, `runs`
    times each."""
    bootstrap, tag = bench.env["KAFKA_BOOTSTRAP"], uuid.uuid4().hex[:8]
    source, output = f"bench-floor-{tag}", f"bench-floor-{tag}-out"
    async with EndOffsets(bootstrap) as ends:
        partitions = len(await ends.of(topics.RAW))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in (source, output)])
    finally:
        await admin.close()
    load = workload(f"bench-{source}", events, partitions, seed=1)
    progress(f"faust floor: producing {events:,} records to {source}")
    await produce_all(bootstrap, load.records, source)
    floors = []
    for mode in MODES:
        for run in range(1, runs + 1):
            progress(f"faust floor: {mode}, run {run}/{runs}")
            data_dir = root / f"floor-{tag}-{mode}-{run}"
            data_dir.mkdir(parents=True)
            command = [sys.executable, str(FLOOR_SCRIPT), mode, source, str(partitions),
                       str(events), output, str(data_dir)]  # fmt: skip
            floors.append(await asyncio.to_thread(_run_floor, mode, command, bench.env))
    return floors


def _run_floor(mode: str, command: list[str], env: dict[str, str]) -> Floor:
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, timeout=STARTUP_TIMEOUT_S + STALL_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode(errors="replace")
        raise SystemExit(f"faust floor {mode} did not finish:\n{stderr[-3000:]}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")
        raise SystemExit(f"faust floor {mode} exited with {done.returncode}:\n{stderr[-3000:]}")
    result = orjson.loads(done.stdout.splitlines()[-1])
    return Floor(mode, result["records"], result["seconds"], result["cpu_seconds"])


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/process.py", description=__doc__)
    add = parser.add_argument
    add("--events", type=int, default=100_000, help="records per throughput run (default 100,000)")
    add("--runs", type=int, default=3, help="throughput runs; the median is reported (default 3)")
    add("--rate", type=float, default=1000.0, help="latency: records/s (default 1,000)")
    add("--seconds", type=float, default=20.0, help="latency: seconds of load (default 20)")
    add("--no-profile", action="store_true", help="skip the extra throughput run under py-spy")
    add("--no-latency", action="store_true", help="skip the latency measurement")
    add("--no-floor", action="store_true", help="skip the bare faust agents")
    add("--profile-out", type=Path, default=Path(tempfile.gettempdir()) / "processors.pyspy.txt")
    return parser.parse_args()


def _stop_on_sigterm() -> None:
    """A SIGTERM unwinds like Ctrl-C, so the worker and broker are stopped on the way out."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


async def _measure(bench: BenchEnvironment, args: argparse.Namespace, root: Path) -> None:
    drains = []
    for run in range(1, args.runs + 1):
        drains.append(result := await drain(bench, root, args.events, run, None))
        progress(f"run {run}/{args.runs}: {result.events_per_s:,.0f} events/s")
    print_throughput(drains)
    print_state(drains)
    if not args.no_floor:
        print_floor(await faust_floor(bench, root, args.events, args.runs), drains)
    if not args.no_latency:
        print_latency(await latency(bench, root, args.rate, args.seconds))
    if not args.no_profile:
        progress("profile: one more throughput run, under py-spy (not counted above)")
        profiled = await drain(bench, root, args.events, args.runs + 1, args.profile_out)
        print_profile(args.profile_out, profiled)


def main() -> None:
    args = _arguments()
    _stop_on_sigterm()
    load_before = os.getloadavg()[0]
    with bench_environment(tools=()) as bench:
        root = bench.data_dir / "workers"
        asyncio.run(_measure(bench, args, root))
    print(
        f"\n{os.cpu_count()} cores, shared by the broker, the worker and this script; 1-minute "
        f"load average before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f}."
    )


if __name__ == "__main__":
    main()
