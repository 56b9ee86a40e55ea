"""How many rows/s does one sink process write into ClickHouse, and how fresh are they?

Everything runs on this machine (2 cores here): a broker and a ClickHouse HTTP server this script
starts (or `KAFKA_BOOTSTRAP` / `CLICKHOUSE_URL`), the components as users start them
(`python -m headwater <component>`, default settings), and the load, all sharing the CPU.

- throughput: ROWS events (default 500,000 processed Vemetric pageviews, each with its own event
  id; bench/backlog.py) are produced straight to headwater.events first, with nothing reading
  them; then one `headwater sink` starts on a fresh consumer group positioned at those events.
  Rows/s = ROWS / the time from its `/readyz` answering 200 until `SELECT count() FROM events`
  reaches ROWS (polled every 0.2 s); also shown from the first record it reports received (its
  /metrics), which leaves out the group join, and its CPU time (and ClickHouse's) per row.
  Median of RUNS runs (default 3); `events` is truncated before each. Target: at least 150,000
  rows/s per sink process.
- freshness: gateway, processors and sink run; Vemetric `POST /e` requests go out at RATE/s
  (default 5,000) for DURATION_S (default 30) after a WARMUP_S (5) warm-up, each with its own
  `identifier` (bench/paced.py). A thread asks ClickHouse every 50 ms which of them are
  queryable; freshness = that first look - the request's 200 (so it reads up to ~50 ms high).
  p50/p99/max, the rate achieved, and each process's CPU meanwhile. Target: p99 under 2 s.

Progress goes to stderr, the tables (markdown) to stdout. PROFILE=<file> adds an unreported
throughput run with py-spy recording the sink (raw collapsed stacks, per thread) into that file.

    make bench-sink
    CASES=freshness RATE=2000 make bench-sink
    ROWS=200000 RUNS=1 PROFILE=/tmp/sink-profile.txt CASES=throughput make bench-sink
"""

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import clickhouse_connect
from backlog import fresh_group, produce
from clickhouse_connect.driver.client import Client
from common import (
    BenchEnvironment,
    bench_environment,
    cpu_seconds,
    free_port,
    progress,
    running,
    serving,
)
from paced import FAILED, Load, Marks, send

__all__ = ["main"]

ROWS_PER_S_TARGET = 150_000
FRESHNESS_P99_TARGET_S = 2.0
POLL_COUNT_S = 0.2
POLL_VISIBLE_S = 0.05


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def component(name: str) -> list[str]:
    return [sys.executable, "-m", "headwater", name]


def clickhouse(bench: BenchEnvironment) -> Client:
    assert bench.clickhouse_url is not None, "bench_environment(clickhouse=True)"
    return clickhouse_connect.get_client(dsn=bench.clickhouse_url)


# -- throughput ---------------------------------------------------------------------------


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
    group = fresh_group(bench.env["KAFKA_BOOTSTRAP"], "bench-sink")
    progress(f"throughput: run {run}: producing {rows:,} events")
    asyncio.run(produce(bench.env["KAFKA_BOOTSTRAP"], rows, run))
    port = free_port()
    env = {**bench.env, "HEADWATER_SINK_PORT": str(port), "HEADWATER_SINK_GROUP_ID": group}
    clickhouse_pid = bench.service_pids.get("clickhouse")
    with serving(component("sink"), env, port, interval=0.02) as sink:
        ready = time.monotonic()
        sink_cpu = cpu_seconds(sink.pid)
        store_cpu = cpu_seconds(clickhouse_pid) if clickhouse_pid else 0.0
        spy = _py_spy(sink.pid, profile) if profile else None
        first = None
        deadline = ready + max(120.0, rows / 1000)
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
        if spy is not None:
            _stop_py_spy(spy, profile)
    return Drain(rows, done - ready, done - (first or ready), sink_cpu, store_cpu)


def _py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    command = Path(sys.executable).with_name("py-spy")
    argv = [str(command), "record", "--threads", "--format", "raw", "-o", str(out)]
    return subprocess.Popen([*argv, "--pid", str(pid)], stdout=subprocess.DEVNULL)


def _stop_py_spy(spy: subprocess.Popen[bytes], out: Path | None) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    spy.wait(60)
    progress(f"throughput: sink profile in {out}")


def throughput(bench: BenchEnvironment, db: Client) -> None:
    rows, runs = int(_env("ROWS", 500_000)), int(_env("RUNS", 3))
    print(
        "| throughput run | rows | s (ready → all counted) | rows/s | rows/s after first record "
        "| sink CPU µs/row | ClickHouse CPU µs/row |"
    )
    print("|---|---|---|---|---|---|---|")
    results = []
    for run in range(1, runs + 1):
        result = drain(bench, db, rows, run, None)
        progress(f"throughput: run {run}/{runs}: {result.rows_per_s:,.0f} rows/s")
        print(
            f"| {run} | {rows:,} | {result.seconds:.2f} | {result.rows_per_s:,.0f} "
            f"| {rows / result.after_first_s:,.0f} | {result.sink_cpu_s / rows * 1e6:.1f} "
            f"| {result.clickhouse_cpu_s / rows * 1e6:.1f} |",
            flush=True,
        )
        results.append(result)
    median = statistics.median(r.rows_per_s for r in results)
    after_first = statistics.median(rows / r.after_first_s for r in results)
    sink_us = statistics.median(r.sink_cpu_s / rows * 1e6 for r in results)
    store_us = statistics.median(r.clickhouse_cpu_s / rows * 1e6 for r in results)
    print(
        f"| **median** | | | **{median:,.0f}** | {after_first:,.0f} | {sink_us:.1f} "
        f"| {store_us:.1f} |"
    )
    verdict = "met" if median >= ROWS_PER_S_TARGET else "missed"
    print(f"\nTarget: at least {ROWS_PER_S_TARGET:,} rows/s per sink process: {verdict}.")
    if profile := os.environ.get("PROFILE"):
        drain(bench, db, rows, runs + 1, Path(profile))


# -- freshness ----------------------------------------------------------------------------

VISIBLE = (
    "SELECT toUInt32OrZero(substring(assumeNotNull(user_id), {start:UInt32})) AS seq"
    " FROM events WHERE received_at >= fromUnixTimestamp64Milli({cutoff:Int64})"
    " AND startsWith(assumeNotNull(user_id), {prefix:String}) AND seq >= {low:UInt32}"
)


class Watcher(threading.Thread):
    """Asks ClickHouse every 50 ms which requests' rows are queryable, and notes when each was
    first found. Each look reads only the rows of requests from the oldest one not found yet
    on (by sequence number, and by `received_at`, which the gateway stamps after the send)."""

    def __init__(self, url: str, load: Load, marks: Marks) -> None:
        super().__init__(name="watcher", daemon=True)
        self._url, self._load, self._marks = url, load, marks
        self.sent = threading.Event()
        """Set when the load is over: requests without a 200 by then will never have one."""
        self.stopping = threading.Event()

    def run(self) -> None:
        db = clickhouse_connect.get_client(dsn=self._url)
        low = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            low = self._oldest_unseen(low)
            if low < self._load.size:
                self._look(db, started, low)
            self.stopping.wait(max(0.0, POLL_VISIBLE_S - (time.monotonic() - started)))

    def _oldest_unseen(self, low: int) -> int:
        marks, sent = self._marks, self.sent.is_set()
        while low < self._load.size and (
            marks.visible[low]
            or marks.answered[low] == FAILED
            or (sent and not marks.answered[low])
        ):
            low += 1
        return low

    def _look(self, db: Client, started: float, low: int) -> None:
        since = self._marks.sent_wall[low] or time.time()  # requests go out in sequence order
        parameters = {
            "start": len(self._load.prefix) + 1,
            "cutoff": int((since - 1.0) * 1000),
            "prefix": self._load.prefix,
            "low": low,
        }
        visible = self._marks.visible
        for (seq,) in db.query(VISIBLE, parameters=parameters).result_rows:
            if seq < self._load.size and not visible[seq]:
                visible[seq] = started


@dataclass(frozen=True)
class Outcome:
    marks: Marks
    cpu_share: dict[str, float]
    """CPU seconds per second of load, per process (1.0 = one core busy)."""

    def freshness_s(self) -> list[float]:
        m = self.marks
        return [m.visible[s] - m.answered[s] for s in m.answered_ok() if m.visible[s]]


def watch(bench: BenchEnvironment, load: Load, pids: dict[str, int], wait_s: float) -> Outcome:
    """Send `load` while watching for its rows; then wait up to `wait_s` for the rest."""
    assert bench.clickhouse_url is not None
    marks = Marks.sized(load.size)
    watcher = Watcher(bench.clickhouse_url, load, marks)
    watcher.start()
    try:
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        client = cpu_seconds(os.getpid(), descendants=False)  # the components are its children
        seconds = send(load, marks)
        cpu = {name: (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}
        cpu["bench client"] = (cpu_seconds(os.getpid(), descendants=False) - client) / seconds
        watcher.sent.set()
        deadline = time.monotonic() + wait_s
        answered = marks.answered_ok()
        while time.monotonic() < deadline and not all(marks.visible[s] for s in answered):
            time.sleep(0.2)
    finally:
        watcher.stopping.set()
        watcher.join()
    return Outcome(marks, cpu)


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def freshness(bench: BenchEnvironment, db: Client) -> None:
    rate, seconds, warmup = _env("RATE", 5000), _env("DURATION_S", 30), _env("WARMUP_S", 5)
    db.command("TRUNCATE TABLE events")
    port = {name: free_port() for name in ("gateway", "sink", "processors")}
    run = uuid.uuid4().hex[:8]
    env = {
        **bench.env,
        "HEADWATER_GATEWAY_PORT": str(port["gateway"]),
        "HEADWATER_GATEWAY_WORKERS": "1",
        "HEADWATER_SINK_PORT": str(port["sink"]),
        "HEADWATER_SINK_GROUP_ID": fresh_group(bench.env["KAFKA_BOOTSTRAP"], "bench-fresh"),
        "HEADWATER_PROCESSORS_APP_ID": f"bench-processors-{run}",
        "HEADWATER_PROCESSORS_METRICS_PORT": str(port["processors"]),
    }
    token = bench.credentials.vemetric_token
    with ExitStack() as stack:
        sink = stack.enter_context(serving(component("sink"), env, port["sink"]))
        processors = stack.enter_context(running(component("process"), env))
        gateway = stack.enter_context(serving(component("gateway"), env, port["gateway"]))
        pids = {"gateway": gateway.pid, "processors": processors.pid, "sink": sink.pid}
        pids |= bench.service_pids
        progress(f"freshness: warm-up, {warmup:.0f} s at {rate:,.0f}/s")
        warm = watch(bench, Load(port["gateway"], token, f"warm-{run}-", rate, warmup), pids, 120)
        if len(warm.freshness_s()) < len(warm.marks.answered_ok()):
            raise SystemExit("freshness: the warm-up's events did not all reach ClickHouse")
        progress(f"freshness: {seconds:.0f} s at {rate:,.0f}/s")
        load = Load(port["gateway"], token, f"fresh-{run}-", rate, seconds)
        print_freshness(load, watch(bench, load, pids, 60))


def print_freshness(load: Load, outcome: Outcome) -> None:
    marks, fresh = outcome.marks, outcome.freshness_s()
    ok = len(marks.answered_ok())
    failed = marks.answered.count(FAILED)
    achieved = ok / load.seconds
    p50, p99 = percentile(fresh, 50), percentile(fresh, 99)
    missing = ok - len(fresh)
    verdict = "met" if p99 < FRESHNESS_P99_TARGET_S and not missing else "missed"
    if achieved < 0.95 * load.rate:
        verdict += f" (at {achieved:,.0f}/s, not {load.rate:,.0f}/s)"
    print(
        "\n| freshness | asked req/s | 200s/s | non-200 | not sent | rows never seen "
        "| p50 s | p99 s | max s | target p99 < 2 s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {load.seconds:.0f} s | {load.rate:,.0f} | {achieved:,.0f} | {failed} "
        f"| {load.size - ok - failed} | {missing} | {p50:.3f} | {p99:.3f} "
        f"| {max(fresh, default=float('nan')):.3f} | {verdict} |"
    )
    print("\n| process | CPU during the load (cores) |\n|---|---|")
    for name, share in sorted(outcome.cpu_share.items(), key=lambda item: -item[1]):
        print(f"| {name} | {share:.2f} |")
    print(
        f"| **all** | **{sum(outcome.cpu_share.values()):.2f}** of {os.cpu_count()} |", flush=True
    )


CASES = {"throughput": throughput, "freshness": freshness}


def main() -> None:
    names = [name.strip() for name in os.environ.get("CASES", ",".join(CASES)).split(",")]
    if unknown := [name for name in names if name not in CASES]:
        raise SystemExit(f"unknown CASES {unknown}; known: {', '.join(CASES)}")
    load_before = os.getloadavg()[0]
    with bench_environment(clickhouse=True, tools=()) as bench:
        subprocess.run(component("migrate"), env=bench.env, check=True, stdout=subprocess.DEVNULL)
        db = clickhouse(bench)
        for name in names:
            CASES[name](bench, db)
    print(
        f"\n{os.cpu_count()} cores; 1-minute load average before the benchmark: {load_before:.1f} "
        "(other work running then shared these cores with it)."
    )


if __name__ == "__main__":
    main()
