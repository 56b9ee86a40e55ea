"""How fresh are the rows? The time from an event's 200 until a query finds it in ClickHouse.

Gateway, processors and sink run as users start them, with default settings; Vemetric `POST /e`
requests go out at RATE/s (default 5,000) for DURATION_S (default 30) after a WARMUP_S (5)
warm-up, each with its own `identifier` (open_loop.py). A thread asks ClickHouse every 50 ms which
of them are queryable; freshness = that first look - the request's 200 (so it reads up to ~50 ms
high). p50/p99/max, the rate achieved, and each process's CPU meanwhile. Target: p99 under 2 s.

Each freshness is split where the events topic is: from the 200 to the processors' record of the
event on `headwater.events` (its Kafka timestamp, stamped when the processors' producer appended
it), and from that record to the first look that found the row (the sink's batching and insert,
and ClickHouse). Both clocks are this machine's.
"""

import asyncio
import os
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass

import orjson
from clickhouse_connect.driver.client import Client

from bench.cpu import cpu_seconds
from bench.environment import (
    BenchEnvironment,
    component_argv,
    free_port,
    progress,
    running,
    serving,
)
from bench.results import CaseResult, percentile
from bench.sinks.backlog import fresh_group
from bench.sinks.open_loop import FAILED, Load, Marks, send
from schemas import topics
from tests.kafka import commit_group_at_end, read_to_end

__all__ = ["Outcome", "freshness"]

FRESHNESS_P99_TARGET_S = 2.0
POLL_VISIBLE_S = 0.05
VISIBLE = (
    "SELECT toUInt32OrZero(substring(person_id, {start:UInt32})) AS seq FROM events"
    " WHERE project_id = {project:String}"
    " AND toDate(event_time) >= toDate(fromUnixTimestamp64Milli({cutoff:Int64}, 'UTC'))"
    " AND name = '$pageview' AND startsWith(person_id, {prefix:String}) AND seq >= {low:UInt32}"
)
"""The load's rows from the oldest not found yet on. The conditions follow the table's sort key
(project, day, name, person: a Vemetric visitor's `person_id` is its `identifier`), so a look
reads the few granules holding the load's visitors, not every row of the day: on a 2-core box
a look every 50 ms over the whole table would be ClickHouse's biggest job."""


class Watcher(threading.Thread):
    """Asks ClickHouse every 50 ms which requests' rows are queryable, and notes when each was
    first found. Each look reads only the rows of requests from the oldest one not found yet on
    (by sequence number, of the day the oldest was sent, by the table's sort key)."""

    def __init__(self, bench: BenchEnvironment, load: Load, marks: Marks) -> None:
        super().__init__(name="watcher", daemon=True)
        self._bench, self._load, self._marks = bench, load, marks
        self.sent = threading.Event()
        """Set when the load is over: requests without a 200 by then will never have one."""
        self.stopping = threading.Event()

    def run(self) -> None:
        db = self._bench.clickhouse()
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
            "project": self._bench.credentials.project_id,
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
    load: Load
    marks: Marks
    cpu_share: dict[str, float]
    """CPU seconds per second of load, per process (1.0 = one core busy)."""
    processed: dict[int, float]
    """`time.monotonic()` at which each request's event was appended to `headwater.events`."""

    def freshness_s(self) -> list[float]:
        m = self.marks
        return [m.visible[s] - m.answered[s] for s in m.answered_ok() if m.visible[s]]

    def hops_s(self) -> tuple[list[float], list[float]]:
        """Per event seen: the 200 to its events record, and that record to its row."""
        m, processed = self.marks, self.processed
        seen = [s for s in m.answered_ok() if m.visible[s] and s in processed]
        return (
            [processed[s] - m.answered[s] for s in seen],
            [m.visible[s] - processed[s] for s in seen],
        )

    def figures(self) -> dict[str, float]:
        fresh = self.freshness_s()
        to_topic, to_row = self.hops_s()
        return {
            "p50_s": percentile(fresh, 50),
            "p99_s": percentile(fresh, 99),
            "max_s": max(fresh, default=float("nan")),
            "achieved_per_s": len(self.marks.answered_ok()) / self.load.seconds,
            "rows_never_seen": len(self.marks.answered_ok()) - len(fresh),
            "to_events_topic_p50_s": percentile(to_topic, 50),
            "to_events_topic_p99_s": percentile(to_topic, 99),
            "topic_to_row_p50_s": percentile(to_row, 50),
            "topic_to_row_p99_s": percentile(to_row, 99),
        }


def processed_at(bench: BenchEnvironment, load: Load, since_wall: float) -> dict[int, float]:
    """When each of `load`'s events reached `headwater.events` (its records' Kafka timestamps,
    on the monotonic clock of `Marks`), by sequence number; the first record of a request wins."""
    records = asyncio.run(read_to_end(bench.bootstrap, topics.EVENTS, int(since_wall * 1000)))
    wall_minus_monotonic = time.time() - time.monotonic()
    prefix, start = load.prefix.encode(), len(load.prefix)
    processed: dict[int, float] = {}
    for record in records:
        if record.value is None or prefix not in record.value:
            continue
        user_id = orjson.loads(record.value).get("user_id") or ""
        if user_id.startswith(load.prefix) and (seq := int(user_id[start:])) not in processed:
            processed[seq] = record.timestamp / 1000 - wall_minus_monotonic
    return processed


def watch(bench: BenchEnvironment, load: Load, pids: dict[str, int], wait_s: float) -> Outcome:
    """Send `load` while watching for its rows; then wait up to `wait_s` for the rest."""
    marks = Marks.sized(load.size)
    watcher = Watcher(bench, load, marks)
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
    started = min((wall for wall in marks.sent_wall if wall), default=time.time())
    return Outcome(load, marks, cpu, processed_at(bench, load, started - 1.0))


def pipeline_env(bench: BenchEnvironment, ports: dict[str, int]) -> dict[str, str]:
    """The three components' settings: their ports, and a sink group and processors app id
    that start at the current end of their topics (a shared broker may hold older records)."""
    app_id = f"bench-processors-{uuid.uuid4().hex[:8]}"
    asyncio.run(commit_group_at_end(bench.bootstrap, app_id, topics.RAW))
    return {
        **bench.env,
        "HEADWATER_GATEWAY_PORT": str(ports["gateway"]),
        "HEADWATER_GATEWAY_WORKERS": "1",
        "HEADWATER_SINK_PORT": str(ports["sink"]),
        "HEADWATER_SINK_GROUP_ID": fresh_group(bench.bootstrap, "bench-fresh"),
        "HEADWATER_PROCESSORS_APP_ID": app_id,
        "HEADWATER_PROCESSORS_METRICS_PORT": str(ports["processors"]),
    }


def freshness(
    bench: BenchEnvironment, db: Client, rate: float, seconds: float, warmup: float
) -> CaseResult:
    """The warm-up, then the measured load; its table."""
    db.command("TRUNCATE TABLE events")
    ports = {name: free_port() for name in ("gateway", "sink", "processors")}
    env = pipeline_env(bench, ports)
    token, run = bench.credentials.vemetric_token, uuid.uuid4().hex[:8]
    with ExitStack() as stack:
        sink = stack.enter_context(serving(component_argv("sink"), env, ports["sink"]))
        processors = stack.enter_context(running(component_argv("process"), env))
        gateway = stack.enter_context(serving(component_argv("gateway"), env, ports["gateway"]))
        pids = {"gateway": gateway.pid, "processors": processors.pid, "sink": sink.pid}
        pids |= bench.service_pids
        progress(f"freshness: warm-up, {warmup:.0f} s at {rate:,.0f}/s")
        warm = watch(bench, Load(ports["gateway"], token, f"warm-{run}-", rate, warmup), pids, 120)
        if len(warm.freshness_s()) < len(warm.marks.answered_ok()):
            raise SystemExit("freshness: the warm-up's events did not all reach ClickHouse")
        progress(f"freshness: {seconds:.0f} s at {rate:,.0f}/s")
        load = Load(ports["gateway"], token, f"fresh-{run}-", rate, seconds)
        outcome = watch(bench, load, pids, 60)
    print_freshness(outcome)
    figures = outcome.figures()
    return CaseResult(f"freshness at {rate:,.0f} req/s", figures, [figures["p50_s"]])


def print_freshness(outcome: Outcome, target_p99_s: float = FRESHNESS_P99_TARGET_S) -> None:
    """The freshness table, judged against `target_p99_s` (the sink's own case: 2 s; the whole
    pipeline's: 1 s)."""
    load, marks, figures = outcome.load, outcome.marks, outcome.figures()
    failed = marks.answered.count(FAILED)
    not_sent = load.size - len(marks.answered_ok()) - failed
    missing = int(figures["rows_never_seen"])
    verdict = "met" if figures["p99_s"] < target_p99_s and not missing else "missed"
    if figures["achieved_per_s"] < 0.95 * load.rate:
        verdict += f" (at {figures['achieved_per_s']:,.0f}/s, not {load.rate:,.0f}/s)"
    print(
        "\n| freshness | asked req/s | 200s/s | non-200 | not sent | rows never seen "
        f"| p50 s | p99 s | max s | target p99 < {target_p99_s:g} s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {load.seconds:.0f} s | {load.rate:,.0f} | {figures['achieved_per_s']:,.0f} | {failed} "
        f"| {not_sent} | {missing} | {figures['p50_s']:.3f} | {figures['p99_s']:.3f} "
        f"| {figures['max_s']:.3f} | {verdict} |"
    )
    print("\n| hop | p50 s | p99 s |\n|---|---|---|")
    print(
        f"| the 200 → its record on {topics.EVENTS} (the processors) "
        f"| {figures['to_events_topic_p50_s']:.3f} | {figures['to_events_topic_p99_s']:.3f} |"
    )
    print(
        "| that record → its row queryable (the sink, ClickHouse) "
        f"| {figures['topic_to_row_p50_s']:.3f} | {figures['topic_to_row_p99_s']:.3f} |"
    )
    print("\n| process | CPU during the load (cores) |\n|---|---|")
    for name, share in sorted(outcome.cpu_share.items(), key=lambda item: -item[1]):
        print(f"| {name} | {share:.2f} |")
    print(
        f"| **all** | **{sum(outcome.cpu_share.values()):.2f}** of {os.cpu_count()} |", flush=True
    )
