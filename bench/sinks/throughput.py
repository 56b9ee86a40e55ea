"""How many rows/s does one sink process write into ClickHouse?

ROWS events (default 500,000 processed Vemetric pageviews, each with its own event id;
backlog.py) are produced straight to headwater.events first, with nothing reading them; then one
`headwater sink` starts on a fresh consumer group positioned at those events. Rows/s = ROWS / the
time from its `/readyz` answering 200 until `SELECT count() FROM events` reaches ROWS (polled
every 0.2 s); also shown from the first record it reports received (its /metrics), which leaves
out the group join, and its CPU time (and ClickHouse's) per row. Median of RUNS runs (default 3);
`events` is truncated before each. Target: at least 150,000 rows/s per sink process.

PROFILE=<file> adds an unreported run with py-spy recording the sink (raw collapsed stacks, per
thread) into that file.
"""

import asyncio
import os
import statistics
import time
import urllib.request
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from bench.cpu import cpu_seconds
from bench.environment import BenchEnvironment, component_argv, free_port, progress, serving
from bench.profiling import py_spy
from bench.results import CaseResult
from bench.sinks.backlog import fresh_group, produce

__all__ = ["Drain", "throughput"]

ROWS_PER_S_TARGET = 150_000
POLL_COUNT_S = 0.2


@dataclass(frozen=True)
class Drain:
    rows: int
    seconds: float
    """From the sink's /readyz answering 200 until every row could be counted."""
    after_first_s: float
    """From the first record the sink reported received until every row could be counted."""
    sink_cpu_s: float
    clickhouse_cpu_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_s_after_first(self) -> float:
        return self.rows / self.after_first_s

    @property
    def sink_cpu_us_per_row(self) -> float:
        return self.sink_cpu_s / self.rows * 1e6

    @property
    def clickhouse_cpu_us_per_row(self) -> float:
        return self.clickhouse_cpu_s / self.rows * 1e6


def received(sink_port: int) -> float:
    """The sink's `events_received` counter, all topics and partitions."""
    with urllib.request.urlopen(f"http://127.0.0.1:{sink_port}/metrics", timeout=5) as answer:
        lines = answer.read().decode().splitlines()
    prefix = "headwater_events_received_total{"
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))


def count_events(db: Client) -> int:
    return int(db.query("SELECT count() FROM events").result_rows[0][0])


def drain(bench: BenchEnvironment, db: Client, rows: int, run: int, profile: Path | None) -> Drain:
    """Produce `rows` events, then time one sink writing them all into `events`."""
    db.command("TRUNCATE TABLE events")
    group = fresh_group(bench.bootstrap, "bench-sink")
    progress(f"throughput: run {run}: producing {rows:,} events")
    asyncio.run(produce(bench.bootstrap, rows, run))
    port = free_port()
    env = {**bench.env, "HEADWATER_SINK_PORT": str(port), "HEADWATER_SINK_GROUP_ID": group}
    clickhouse_pid = bench.service_pids.get("clickhouse")
    with serving(component_argv("sink"), env, port, interval=0.02) as sink:
        ready = time.monotonic()
        sink_cpu = cpu_seconds(sink.pid)
        store_cpu = cpu_seconds(clickhouse_pid) if clickhouse_pid else 0.0
        first = None
        deadline = ready + max(120.0, rows / 1000)
        with py_spy(sink.pid, profile) if profile else nullcontext():
            while (count := count_events(db)) < rows:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"throughput: {count:,} of {rows:,} rows after {deadline - ready:.0f} s"
                    )
                if first is None and received(port) > 0:
                    first = time.monotonic()
                time.sleep(POLL_COUNT_S if first is not None else 0.02)
            done = time.monotonic()
            sink_cpu = cpu_seconds(sink.pid) - sink_cpu
            store_cpu = (cpu_seconds(clickhouse_pid) if clickhouse_pid else 0.0) - store_cpu
    if profile:
        progress(f"throughput: sink profile in {profile}")
    return Drain(rows, done - ready, done - (first or ready), sink_cpu, store_cpu)


def print_run(run: int, result: Drain) -> None:
    print(
        f"| {run} | {result.rows:,} | {result.seconds:.2f} | {result.rows_per_s:,.0f} "
        f"| {result.rows_per_s_after_first:,.0f} | {result.sink_cpu_us_per_row:.1f} "
        f"| {result.clickhouse_cpu_us_per_row:.1f} |",
        flush=True,
    )


def throughput(bench: BenchEnvironment, db: Client, rows: int, runs: int) -> CaseResult:
    """`runs` drains of `rows` rows, their table, and their medians."""
    print(
        "| throughput run | rows | s (ready → all counted) | rows/s | rows/s after first record "
        "| sink CPU µs/row | ClickHouse CPU µs/row |"
    )
    print("|---|---|---|---|---|---|---|")
    results = []
    for run in range(1, runs + 1):
        result = drain(bench, db, rows, run, None)
        progress(f"throughput: run {run}/{runs}: {result.rows_per_s:,.0f} rows/s")
        print_run(run, result)
        results.append(result)
    figures = {
        "rows_per_s": statistics.median(r.rows_per_s for r in results),
        "rows_per_s_after_first": statistics.median(r.rows_per_s_after_first for r in results),
        "cpu_us_per_event": statistics.median(r.sink_cpu_us_per_row for r in results),
        "clickhouse_cpu_us_per_event": statistics.median(
            r.clickhouse_cpu_us_per_row for r in results
        ),
    }
    print(
        f"| **median** | | | **{figures['rows_per_s']:,.0f}** "
        f"| {figures['rows_per_s_after_first']:,.0f} | {figures['cpu_us_per_event']:.1f} "
        f"| {figures['clickhouse_cpu_us_per_event']:.1f} |"
    )
    verdict = "met" if figures["rows_per_s"] >= ROWS_PER_S_TARGET else "missed"
    print(f"\nTarget: at least {ROWS_PER_S_TARGET:,} rows/s per sink process: {verdict}.")
    if profile := os.environ.get("PROFILE"):
        drain(bench, db, rows, runs + 1, Path(profile))
    return CaseResult("throughput", figures, [r.rows_per_s for r in results])
