"""How many events/s does ONE processor worker (`headwater process`) handle, what latency does it
add, and what does its dedupe state cost?

Everything runs on this machine: a broker started through Headwater's own stack (or the one
`KAFKA_BOOTSTRAP` names), the worker, and the benchmark's producer and offset polling. On a
2-core machine they all share two cores with the broker (and with whatever else runs), so the
numbers are what one worker does beside its broker here, not on a core of its own. Each worker
gets a fresh app id (its consumer group, committed at the end of headwater.raw, and its own
changelog topics) and data folder, so it starts with empty state and reads only its run's
records; each workload is its own project, so no dedupe state can match another run's.

- throughput (throughput.py): --events records (default 100,000; workload.py: Vemetric,
  Usermaven and direct events, 10% exact re-sends, 5% identify calls) through one fresh worker;
  events/s and worker CPU per input record. Median of --runs (3).
- state: after each run, the `seen` table's RocksDB files (and `links`, and the seen changelog on
  the local broker), and the worker's RSS at its first output and at the end; per million
  identities, extrapolated linearly when --events is under a million.
- latency (latency.py): records at --rate/s (default 1,000) for --seconds (20) through a
  caught-up worker; added latency p50/p99/max.
- faust floor (floor.py): the same records through bare faust agents: faust's own cost of the
  work every event needs, without any of Headwater's. Median of --runs each.
- workflow triggers (triggers.py): each throughput run again with --workflows (default 200)
  published workflows in the records' project, on event names the records never carry: what the
  chain's trigger step costs an event that starts nothing, per worker and for the step alone.
- off-rule records (--off-rule 0.5,1): each throughput run again with that share of the records
  produced to a partition other than their rule partition (as a client with another partitioner
  would), for each share: records/s and worker CPU per input record beside the run with none,
  i.e. what the re-routing hop costs (processors/place.py).
- profile: one more throughput run, not counted, with py-spy recording the worker (py-spy comes
  with the test extra); samples by area and the top functions, and the CPU per event by stage of
  the chain (stages.py: each stage's share of the samples times the counted runs' median), which
  the results file keeps as one case per stage.

    make bench-processors
    make bench-processors ARGS="--events 1000000 --runs 1 --no-latency"
    make bench-processors ARGS="--events 50000 --runs 5 --no-latency --no-floor"  # triggers
    make bench-processors ARGS="--events 50000 --runs 3 --no-latency --no-floor --workflows 0 \
        --no-profile --off-rule 0.5,1"                                   # the re-routing hop
    .venv/bin/python -m bench.processors --events 20000 --runs 1 --no-profile
"""

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.environment import BenchEnvironment, bench_environment, progress, quick_mode
from bench.processors.floor import Floor, faust_floor
from bench.processors.latency import Latency, latency
from bench.processors.report import (
    print_floor,
    print_latency,
    print_off_rule,
    print_profile,
    print_state,
    print_throughput,
    print_triggers,
)
from bench.processors.stages import print_stages, stage_results
from bench.processors.throughput import Drain, drain
from bench.processors.triggers import call_floor_ns, step_ns_per_event
from bench.processors.workload import workload
from bench.profiling import py_spy_command
from bench.results import CaseResult, percentile
from bench.runner import Benchmark

__all__ = ["BENCHMARK", "Options", "arguments", "measure"]

MB = 1024 * 1024


@dataclass(frozen=True)
class Options:
    events: int = 100_000
    runs: int = 3
    rate: float = 1000.0
    seconds: float = 20.0
    latency: bool = True
    floor: bool = True
    profile: bool = True
    profile_out: Path = Path(tempfile.gettempdir()) / "processors.pyspy.txt"
    workflows: int = 200
    off_rule: tuple[float, ...] = ()

    @classmethod
    def quick(cls) -> "Options":
        """Brief runs: enough to check the wiring, not to measure."""
        return cls(events=5_000, runs=1, rate=500.0, seconds=3.0, profile=False)


def arguments() -> Options:
    """The command line's options (defaults: `Options()`, or `Options.quick()` with BENCH_QUICK)."""
    default = Options.quick() if quick_mode() else Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench.processors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--events", type=int, default=default.events, help="records per throughput run")
    add("--runs", type=int, default=default.runs, help="throughput runs; the median is reported")
    add("--rate", type=float, default=default.rate, help="latency: records/s")
    add("--seconds", type=float, default=default.seconds, help="latency: seconds of load")
    add("--no-profile", action="store_true", help="skip the extra throughput run under py-spy")
    add("--no-latency", action="store_true", help="skip the latency measurement")
    add("--no-floor", action="store_true", help="skip the bare faust agents")
    add("--profile-out", type=Path, default=default.profile_out)
    add("--workflows", type=int, default=default.workflows,
        help="published workflows for the trigger comparison runs (0: none)")  # fmt: skip
    add(
        "--off-rule",
        type=_shares,
        default=default.off_rule,
        help="shares of records produced off their rule partition, e.g. 0.5,1 (none by default)",
    )
    args = parser.parse_args()
    return Options(
        args.events, args.runs, args.rate, args.seconds, not args.no_latency, not args.no_floor,
        not args.no_profile, args.profile_out, args.workflows, args.off_rule,
    )  # fmt: skip


def _shares(text: str) -> tuple[float, ...]:
    shares = tuple(float(part) for part in text.split(","))
    if not all(0 < share <= 1 for share in shares):
        raise argparse.ArgumentTypeError("each share is above 0 and at most 1")
    return shares


async def _measure(bench: BenchEnvironment, options: Options, root: Path) -> list[CaseResult]:
    drains, loaded = [], []
    moved: dict[float, list[Drain]] = {share: [] for share in options.off_rule}
    for run in range(1, options.runs + 1):  # the variants in turn: same noise
        drains.append(result := await drain(bench, root, options.events, run, None))
        progress(f"run {run}/{options.runs}: {result.events_per_s:,.0f} events/s")
        if options.workflows:
            loaded.append(
                result := await drain(bench, root, options.events, run, None, options.workflows)
            )
            progress(f"run {run}, {options.workflows} workflows: {result.events_per_s:,.0f}/s")
        for share, runs in moved.items():
            runs.append(result := await drain(bench, root, options.events, run, None, 0, share))
            progress(f"run {run}, {share:.0%} off the rule: {result.events_per_s:,.0f}/s")
    print_throughput(drains)
    print_state(drains)
    results = [throughput_result(drains)]
    if loaded:
        results.append(triggers_result(drains, loaded, options.events))
    if moved:
        print_off_rule(drains, moved)
        results += off_rule_results(moved)
    if options.floor:
        floors = await faust_floor(bench, root, options.events, options.runs)
        print_floor(floors, drains)
        results += floor_results(floors)
    if options.latency:
        measured = await latency(bench, root, options.rate, options.seconds)
        print_latency(measured)
        results.append(latency_result(measured))
    if options.profile and py_spy_command() is None:
        progress("py-spy not found (pip install py-spy): no profile run")
    elif options.profile:
        progress("profile: one more throughput run, under py-spy (not counted above)")
        profiled = await drain(bench, root, options.events, options.runs + 1, options.profile_out)
        print_profile(options.profile_out, profiled)
        median = statistics.median(d.cpu_us_per_event for d in drains)
        stages = stage_results(options.profile_out, median)
        print_stages(stages, median)
        results += stages
    return results


def throughput_result(drains: list[Drain]) -> CaseResult:
    def median(value: Callable[[Drain], float]) -> float:
        return statistics.median(value(d) for d in drains)

    figures = {
        "events_per_s": median(lambda d: d.events_per_s),
        "cpu_us_per_event": median(lambda d: d.cpu_us_per_event),
        "startup_s": median(lambda d: d.startup_s),
        "seen_mb_per_million": median(lambda d: d.seen_stopped.total / MB / d.distinct * 1e6),
        "rss_mb_at_end": median(lambda d: d.rss_done / MB),
    }
    return CaseResult("throughput", figures, [d.events_per_s for d in drains])


def triggers_result(drains: list[Drain], loaded: list[Drain], events: int) -> CaseResult:
    """The worker's CPU per event with and without workflows, and the step's alone."""
    load = workload("bench-trigger-step", events, 1)
    workflows = loaded[0].workflows
    step = {n: step_ns_per_event(load.project_id, load.records, n) for n in (0, workflows)}
    floor = call_floor_ns(load.records)
    print_triggers(drains, loaded, step, floor)
    figures = {
        "cpu_us_per_event_with_workflows": statistics.median(d.cpu_us_per_event for d in loaded),
        "cpu_us_per_event_without": statistics.median(d.cpu_us_per_event for d in drains),
        "step_ns_per_event_with_workflows": step[workflows],
        "step_ns_per_event_without": step[0],
        "empty_call_ns_per_event": floor,
    }
    case = f"workflow triggers: no match, {workflows} workflows in the project"
    return CaseResult(case, figures, [d.cpu_us_per_event for d in loaded])


def off_rule_results(moved: dict[float, list[Drain]]) -> list[CaseResult]:
    """One case per share of records off the rule (the share 0 is the throughput case)."""
    results = []
    for share, runs in moved.items():
        figures = {
            "records_per_s": statistics.median(d.events_per_s for d in runs),
            "cpu_us_per_record": statistics.median(d.cpu_us_per_event for d in runs),
        }
        case = f"off-rule records: {share:.0%} moved to their rule partition"
        results.append(CaseResult(case, figures, [d.events_per_s for d in runs]))
    return results


def floor_results(floors: list[Floor]) -> list[CaseResult]:
    """One case per bare-agent mode."""
    results = []
    for mode in dict.fromkeys(floor.mode for floor in floors):
        runs = [floor for floor in floors if floor.mode == mode]
        figures = {
            "records_per_s": statistics.median(floor.per_s for floor in runs),
            "cpu_us_per_event": statistics.median(floor.cpu_us for floor in runs),
        }
        results.append(CaseResult(f"bare faust agent: {mode}", figures, [f.per_s for f in runs]))
    return results


def latency_result(measured: Latency) -> CaseResult:
    added = measured.added_ms
    figures = {
        "p50_ms": percentile(added, 50),
        "p99_ms": percentile(added, 99),
        "max_ms": float(max(added, default=0)),
        "records_per_s": measured.records / measured.send_s,
    }
    return CaseResult(f"latency at {measured.rate:,.0f}/s", figures, [figures["p50_ms"]])


def measure(options: Options) -> list[CaseResult]:
    with bench_environment() as bench:
        return asyncio.run(_measure(bench, options, bench.data_dir / "workers"))


def run(quick: bool) -> list[CaseResult]:
    """The whole benchmark (`make bench`), with its profile run for the stage figures: its
    figures."""
    return measure(Options.quick() if quick else Options())


BENCHMARK = Benchmark("processors", "make bench-processors", run)
