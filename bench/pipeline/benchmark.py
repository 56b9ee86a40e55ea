"""What does one box running the whole pipeline sustain, how fresh are its rows, and what does
each event cost in CPU across everything?

Everything runs on this machine (2 cores here): a broker and a ClickHouse server the benchmark
starts (or `KAFKA_BOOTSTRAP` / `CLICKHOUSE_URL`; either way in a database of its own), the
components as `headwater up` starts them (stack.py: sink, processors, engine, gateway, default
settings), and the load, all sharing the CPU. The load is the seed's Vemetric pageview, `POST
/e`, one event per request, from many visitors. In turn:

- warm-up: --warmup-seconds (120) at the freshness rate; every event must reach ClickHouse.
  The broker's JVM compiles its hot code in its first minutes: after a 10 s warm-up Kafka used
  0.47-0.59 cores at 1,000 events/s, after 150 s 0.19-0.21 (docs/performance.md).
- freshness (bench/sinks/freshness.py's method): --freshness-rate events/s (1,000) for
  --freshness-seconds (30; 0 skips it), each request its own visitor, ClickHouse asked every
  50 ms which rows are queryable: from the gateway's 200 to the row, p50/p99/max. Target: p99
  under 1 s.
- sustained rate (step.py, search.py): steps of --step-seconds (40) of paced wrk load
  (paced.py), doubling from --first-rate (1,000/s) until one falls behind, then bisecting until
  the rates kept up with and not are within --precision (10%), at most --steps (8; 0 skips the
  search). A step keeps up when every accepted event reaches ClickHouse and the lag (accepted -
  stored) does not grow over the last half of it. Target: 10,000 events/s.
- cost: at the highest rate kept up with, each component's and service's CPU per event from
  /proc, their sum (target: about 175 µs), the load's own CPU, and the other work meanwhile;
  and each part's cores with no load (--idle-seconds, 15, before the search), so that what one
  more event costs (above idle) is told apart from what keeping the pipeline up costs.

    make bench-pipeline
    make bench-pipeline ARGS="--first-rate 1500 --step-seconds 60 --freshness-seconds 0"
"""

import argparse
import dataclasses
import subprocess
import uuid
from dataclasses import dataclass

from bench.environment import (
    BenchEnvironment,
    bench_environment,
    component_argv,
    progress,
    quick_mode,
)
from bench.pipeline.report import print_cost, print_steps, search_results
from bench.pipeline.search import search
from bench.pipeline.stack import Pipeline, running_pipeline
from bench.pipeline.step import idle_cores, run_step
from bench.results import CaseResult
from bench.runner import Benchmark
from bench.sinks.freshness import print_freshness, watch
from bench.sinks.open_loop import Load

__all__ = ["BENCHMARK", "Options", "arguments", "measure"]

FRESHNESS_P99_TARGET_S = 1.0
"""Issue 19's target for the whole pipeline at 1,000 events/s (the sink's own case has 2 s)."""
WAIT_S = 120.0
"""How long after the freshness load its last rows may take to appear."""


@dataclass(frozen=True)
class Options:
    """What to measure, and how long (the defaults of `make bench`)."""

    first_rate: float = 1000.0
    """Events/s of the search's first step."""
    step_seconds: float = 40.0
    precision: float = 0.1
    """The search stops when the rate not kept up with is within this share of the one kept."""
    steps: int = 8
    """Most steps of the search (0 skips it)."""
    freshness_rate: float = 1000.0
    """Events/s of the warm-up and of the freshness case."""
    freshness_seconds: float = 30.0
    warmup_seconds: float = 120.0
    idle_seconds: float = 15.0
    """How long each part's CPU with no load is read for, before the search."""

    @classmethod
    def quick(cls) -> "Options":
        """Brief runs: enough to check the wiring, not to measure."""
        return cls(200.0, 5.0, 0.1, 2, 200.0, 3.0, 3.0, 2.0)


def arguments() -> Options:
    """The command line: an option for each field of `Options` (`--step-seconds 60`), its
    default `Options()`'s, or `Options.quick()`'s with BENCH_QUICK."""
    default = Options.quick() if quick_mode() else Options()
    parser = argparse.ArgumentParser(
        "python -m bench.pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for field in dataclasses.fields(Options):
        value = getattr(default, field.name)
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(value), default=value)
    return Options(**vars(parser.parse_args()))


def _warm_up(bench: BenchEnvironment, pipeline: Pipeline, options: Options) -> None:
    """Consumer groups joined, connections open, caches warm: every event of it stored."""
    step = run_step(bench, pipeline, options.freshness_rate, options.warmup_seconds)
    if step.stored < step.accepted or not step.accepted:
        raise SystemExit(f"warm-up: {step.stored:,} of {step.accepted:,} events stored")


def _freshness(bench: BenchEnvironment, pipeline: Pipeline, options: Options) -> CaseResult:
    rate, prefix = options.freshness_rate, f"fresh-{uuid.uuid4().hex[:8]}-"
    progress(f"freshness: {options.freshness_seconds:.0f} s at {rate:,.0f} events/s")
    load = Load(pipeline.gateway_port, pipeline.token, prefix, rate, options.freshness_seconds)
    outcome = watch(bench, load, pipeline.pids, WAIT_S)
    print_freshness(outcome, FRESHNESS_P99_TARGET_S)
    figures = outcome.figures()
    return CaseResult(f"freshness at {rate:,.0f} events/s", figures, [figures["p50_s"]])


def _sustained(bench: BenchEnvironment, pipeline: Pipeline, options: Options) -> list[CaseResult]:
    idle = idle_cores(pipeline, options.idle_seconds)
    found = search(
        lambda rate: run_step(bench, pipeline, rate, options.step_seconds),
        options.first_rate,
        options.precision,
        options.steps,
    )
    print_steps(found)
    if (best := found.best()) is not None:
        print_cost(best, idle)
    return search_results(found, idle)


def measure(options: Options) -> list[CaseResult]:
    with bench_environment(clickhouse=True, tools=("wrk",)) as bench:
        migrate = component_argv("migrate")
        subprocess.run(migrate, env=bench.env, check=True, stdout=subprocess.DEVNULL)
        with running_pipeline(bench) as pipeline:
            _warm_up(bench, pipeline, options)
            results = [_freshness(bench, pipeline, options)] if options.freshness_seconds else []
            if options.steps:
                results += _sustained(bench, pipeline, options)
        return results


def run(quick: bool) -> list[CaseResult]:
    """Every case with its default sizes (`make bench`): their figures."""
    return measure(Options.quick() if quick else Options())


BENCHMARK = Benchmark("pipeline", "make bench-pipeline", run)
