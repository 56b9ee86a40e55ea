"""One step of the search: the pipeline under a paced load for a while, and whether it kept up.

While wrk sends (paced.py), the benchmark samples every SAMPLE_S how many events were accepted
(records on `headwater.raw`: the gateway answers 200 only after Kafka's ack) and how many are
stored (rows of `events` in the run's own ClickHouse database), both counted from the step's
start. The gap between them is the pipeline's lag. The pipeline keeps up when, over the last half
of the load, the gap grows by no more than GROWTH_TOLERANCE of the rate (the slope of a line
fitted to it; the sink's flushes make it a saw-tooth), wrk had no errors and reached the rate,
and after the load every accepted event reaches ClickHouse. CPU is read from /proc for each
component and service over the load; the other-work meter runs beside it.
"""

import asyncio
import os
import resource
import statistics
import time
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from bench.cpu import NeighbourMeter, cpu_seconds
from bench.environment import BenchEnvironment, progress
from bench.kafka import EndOffsets
from bench.pipeline.paced import Paced, paced_load, write_script
from bench.pipeline.stack import Pipeline
from schemas import topics

__all__ = ["Sample", "Step", "idle_cores", "run_step"]

SAMPLE_S = 1.0
GROWTH_TOLERANCE = 0.03
"""How fast the lag may grow over the last half of the load, as a share of the rate."""
REACHED = 0.95
"""The share of the rate wrk must reach: below it, the gateway did not take the load."""
STALL_S = 30.0
"""After the load, how long the row count may stand still before the rest counts as lost."""


@dataclass(frozen=True)
class Sample:
    at: float
    """Seconds since the load began."""
    accepted: int
    stored: int

    @property
    def gap(self) -> int:
        return self.accepted - self.stored


@dataclass(frozen=True)
class Step:
    rate: float
    seconds: float
    paced: Paced
    samples: list[Sample]
    accepted: int
    """Events accepted during the step (the load and the few answered after wrk stopped)."""
    stored: int
    """Rows stored once the drain after the load ended."""
    drain_s: float
    """From the load's end until the last accepted event was stored (or the count stalled)."""
    cpu_s: dict[str, float]
    """CPU seconds each component and service used during the load."""
    load_cpu_s: dict[str, float]
    """CPU seconds of the load's own processes: wrk, and this benchmark's sampling."""
    others_cores: float

    @property
    def accepted_in_load(self) -> int:
        return self.samples[-1].accepted if self.samples else 0

    @property
    def accepted_per_s(self) -> float:
        return self.accepted_in_load / self.seconds

    def growth_per_s(self) -> float:
        """How fast the gap grew over the last half of the load (events/s)."""
        half = [s for s in self.samples if s.at >= self.seconds / 2]
        if len(half) < 2:
            return 0.0
        fit = statistics.linear_regression([s.at for s in half], [float(s.gap) for s in half])
        return fit.slope

    def lag_at_end_s(self) -> float:
        """The gap when the load ended, in seconds of the rate."""
        return self.samples[-1].gap / self.rate if self.samples else 0.0

    def failures(self) -> list[str]:
        """Why the pipeline did not keep up at this rate (none: it did)."""
        found = []
        if self.paced.error:
            found.append(self.paced.error.strip().splitlines()[0])
        if self.accepted_per_s < REACHED * self.rate:
            found.append(f"accepted {self.accepted_per_s:,.0f}/s")
        if self.growth_per_s() > GROWTH_TOLERANCE * self.rate:
            found.append(f"lag grew {self.growth_per_s():,.0f} events/s")
        if self.stored < self.accepted:
            found.append(f"{self.accepted - self.stored:,} events not stored")
        return found

    @property
    def sustained(self) -> bool:
        return not self.failures()

    def cores(self) -> dict[str, float]:
        return {name: cpu / self.seconds for name, cpu in self.cpu_s.items()}

    def cpu_us_per_event(self) -> dict[str, float]:
        events = max(self.accepted_in_load, 1)
        return {name: cpu * 1e6 / events for name, cpu in self.cpu_s.items()}


class _Counts:
    """Accepted and stored events, counted from when it was made."""

    def __init__(self, ends: EndOffsets, db: Client) -> None:
        self._ends, self._db = ends, db
        self._base = (0, 0)

    async def start(self) -> None:
        self._base = await self._now()

    async def _now(self) -> tuple[int, int]:
        accepted = await self._ends.total(topics.RAW)
        return accepted, int(self._db.query("SELECT count() FROM events").result_rows[0][0])

    async def sample(self, at: float) -> Sample:
        accepted, stored = await self._now()
        return Sample(at, accepted - self._base[0], stored - self._base[1])


async def _drain(counts: _Counts) -> tuple[Sample, float]:
    """Wait until every accepted event is stored, or the count stalls for STALL_S."""
    began = changed = time.monotonic()
    last = await counts.sample(0.0)
    while last.stored < last.accepted and time.monotonic() - changed < STALL_S:
        await asyncio.sleep(0.5)
        now = await counts.sample(time.monotonic() - began)
        if now.stored != last.stored:
            changed = time.monotonic()
        last = now
    return last, (changed if last.stored < last.accepted else time.monotonic()) - began


async def _step(bench: BenchEnvironment, pipeline: Pipeline, rate: float, seconds: float) -> Step:
    script = write_script(bench.data_dir / "paced.lua", pipeline.token, rate)
    async with EndOffsets(bench.bootstrap) as ends:
        counts = _Counts(ends, bench.clickhouse())
        await counts.start()
        with NeighbourMeter() as meter:
            before, load_before = _cpu(pipeline), _load_cpu()
            began = time.monotonic()
            wrk = asyncio.create_task(asyncio.to_thread(paced_load, pipeline.url, script, seconds))
            samples = []
            while not wrk.done():
                await asyncio.wait([wrk], timeout=SAMPLE_S)
                samples.append(await counts.sample(min(time.monotonic() - began, seconds)))
            cpu = {name: t - before[name] for name, t in _cpu(pipeline).items()}
            load_cpu = {name: t - load_before[name] for name, t in _load_cpu().items()}
        last, drain_s = await _drain(counts)
    return Step(
        rate,
        seconds,
        wrk.result(),
        samples,
        last.accepted,
        last.stored,
        drain_s,
        cpu,
        load_cpu,
        meter.others_cores,
    )


def _cpu(pipeline: Pipeline) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pipeline.pids.items()}


def idle_cores(pipeline: Pipeline, seconds: float) -> dict[str, float]:
    """Each part's cores with no load at all: what keeping it running costs (polls, heartbeats,
    commits, merges), paid whatever the rate."""
    progress(f"pipeline: idle for {seconds:.0f} s")
    before = _cpu(pipeline)
    time.sleep(seconds)
    return {name: (t - before[name]) / seconds for name, t in _cpu(pipeline).items()}


def _load_cpu() -> dict[str, float]:
    """wrk's CPU (a child that has ended: counted in RUSAGE_CHILDREN once reaped), and this
    process's own."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wrk": children.ru_utime + children.ru_stime,
        "benchmark": cpu_seconds(os.getpid(), descendants=False),
    }


def run_step(bench: BenchEnvironment, pipeline: Pipeline, rate: float, seconds: float) -> Step:
    """Load the pipeline at `rate` events/s for `seconds`, then wait for what it accepted."""
    progress(f"pipeline: {rate:,.0f} events/s for {seconds:.0f} s")
    step = asyncio.run(_step(bench, pipeline, rate, seconds))
    verdict = "; ".join(step.failures()) or "kept up"
    progress(
        f"pipeline: {rate:,.0f}/s: accepted {step.accepted_per_s:,.0f}/s, lag grew "
        f"{step.growth_per_s():,.0f}/s, drained in {step.drain_s:.1f} s: {verdict}"
    )
    return step
