"""What does the workflow engine cost, and how fast does a webhook follow its event?

Everything runs on this machine: a broker started through Headwater's own stack (or the one
`KAFKA_BOOTSTRAP` names), the parts as users start them, and the benchmark's own client; on a
2-core machine they all share two cores, so the numbers are what one engine worker does beside
its broker (and, in the latency case, beside a gateway, a processors worker and a receiver).
Each worker gets a fresh app id (consumer group, changelog topics) and data folder.

- pending (pending.py): --pending (default 1,000,000) `event` commands, each starting Start ->
  Delay(1 day) -> Webhook, produced to headwater.workflow-commands first; one fresh `headwater
  engine` takes them all in: commands/s, engine CPU per command, RSS as it goes (peak and when
  done), its RocksDB folder and changelog segments, per million (extrapolated linearly when
  --pending is under a million); then a restart on the same data folder: seconds until it starts
  a new command, and its RSS with every timer still pending.
- latency (latency.py, pipeline.py): Vemetric events at each of --rates/s (20, then 500) for
  --seconds (20) from a paced client through gateway, processors and engine to `headwater
  webhooks receive`, each starting two published workflows: Start -> Webhook (event sent ->
  webhook arrived, p50/p99/max; target p99 < 1 s) and Start -> Delay(2 s) -> Webhook (its
  lateness past sent + 2 s, and the engine's own lateness histogram; target p99 < 1 s); every
  part's CPU per event, the records the engine wrote per event, and the rate at which the
  webhooks arrived (what the engine kept up with, when the load was more than that).
- profile (--profile FOLDER): the engine under py-spy while it takes the pending commands in and
  during the latency case's load; its top functions.

The cost of the trigger step in the processors is measured by bench/processors (triggers.py).

    make bench-engine
    make bench-engine ARGS="--pending 300000 --no-latency"
    make bench-engine ARGS="--no-pending --rates 200 --profile /tmp/engine-profiles"
"""

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path

from bench.engine.latency import Latency, latency
from bench.engine.pending import Pending, pending
from bench.engine.report import MB, MILLION, print_latency, print_pending, print_profile
from bench.environment import BenchEnvironment, bench_environment, progress, quick_mode
from bench.profiling import py_spy_command
from bench.results import CaseResult, percentile
from bench.runner import Benchmark

__all__ = ["BENCHMARK", "Options", "arguments", "measure"]


@dataclass(frozen=True)
class Options:
    pending: int = 1_000_000
    rates: tuple[float, ...] = (20.0, 500.0)
    """Latency: events/s, each for `seconds`, in turn (one below the engine's capacity here)."""
    seconds: float = 20.0
    profile: Path | None = None

    @classmethod
    def quick(cls) -> "Options":
        """Brief runs: enough to check the wiring, not to measure."""
        return cls(pending=20_000, rates=(50.0,), seconds=3.0)


def arguments() -> Options:
    """The command line's options (defaults: `Options()`, or `Options.quick()` with BENCH_QUICK)."""
    default = Options.quick() if quick_mode() else Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--pending", type=int, default=default.pending, help="executions left pending (0: skip)")
    add("--no-pending", action="store_true", help="skip the pending case")
    add("--rates", default=",".join(f"{rate:g}" for rate in default.rates),
        help="latency: events/s, comma-separated, each in turn")  # fmt: skip
    add("--seconds", type=float, default=default.seconds, help="latency: seconds of load")
    add("--no-latency", action="store_true", help="skip the latency case")
    add("--profile", type=Path, help="record the engine with py-spy, into files in this folder")
    args = parser.parse_args()
    return Options(
        0 if args.no_pending else args.pending,
        tuple(float(rate) for rate in args.rates.split(",")),
        0.0 if args.no_latency else args.seconds,
        args.profile,
    )


def pending_result(p: Pending) -> CaseResult:
    per_million = MILLION / p.commands
    figures = {
        "commands_per_s": p.per_s,
        "cpu_us_per_event": p.cpu_us_per_command,
        "startup_s": p.startup_s,
        "rss_mb_peak": p.peak / MB,
        "rss_mb_at_end": p.final.rss / MB,
        "rocksdb_mb_per_million": p.rocksdb * per_million / MB,
        "restart_ready_s": p.ready_s,
        "rss_mb_after_restart": p.after_restart.rss / MB,
    }
    if p.changelogs is not None:
        figures["changelog_mb_per_million"] = p.changelogs * per_million / MB
    case = f"pending delays: {p.commands:,} executions on a 1-day Delay"
    return CaseResult(case, figures, [p.per_s])


def latency_results(measured: Latency) -> list[CaseResult]:
    """Two cases per rate: the webhook right after the event, and the one after the Delay."""

    def figures(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": percentile(values, 50) * 1000,
            "p99_ms": percentile(values, 99) * 1000,
            "max_ms": max(values) * 1000,
            "cpu_us_per_event": measured.cpu_us_per_event("engine"),
        }

    rate = f"{measured.rate:,.0f} events/s"
    now = figures(measured.latencies_s)
    late = figures(measured.lateness_s)
    late["engine_histogram_p99_ms"] = measured.engine_lateness[1] * 1000
    now["drained_per_s"] = measured.drained_per_s
    return [
        CaseResult(f"event → webhook, whole pipeline, {rate}", now, [now["p50_ms"]]),
        CaseResult(f"2 s Delay lateness under that load, {rate}", late, [late["p50_ms"]]),
    ]


async def _measure(bench: BenchEnvironment, options: Options) -> list[CaseResult]:
    results, root = [], bench.data_dir / "workers"
    spies = _profiles(options.profile)
    if options.pending:
        measured = await pending(bench, root, options.pending, spies.get("pending"))
        print_pending(measured)
        results.append(pending_result(measured))
        if "pending" in spies:
            print_profile(spies["pending"], "taking the pending commands in")
    if options.seconds:
        timed = await latency(
            bench, root, list(options.rates), options.seconds, spies.get("latency")
        )
        for measured_rate in timed:
            print_latency(measured_rate)
            results += latency_results(measured_rate)
        if "latency" in spies:
            print_profile(spies["latency"], "the latency case's load")
    return results


def _profiles(folder: Path | None) -> dict[str, Path]:
    """Where each case's py-spy recording goes; none without --profile or without py-spy."""
    if folder is None:
        return {}
    if py_spy_command() is None:
        progress("py-spy not found (pip install py-spy): no profiles")
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    return {case: folder / f"engine-{case}.pyspy.txt" for case in ("pending", "latency")}


def measure(options: Options) -> list[CaseResult]:
    with bench_environment() as bench:
        return asyncio.run(_measure(bench, options))


def run(quick: bool) -> list[CaseResult]:
    """Both cases without a profile (`make bench`): their figures."""
    return measure(Options.quick() if quick else Options())


BENCHMARK = Benchmark("engine", "make bench-engine", run)
