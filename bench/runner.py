"""A benchmark as the runner sees it: a name, the command that runs it alone, and a function that
measures and returns its cases; and how it runs, timed and with the machine's other work metered.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.cpu import NeighbourMeter
from bench.environment import progress, quick_mode, stop_on_sigterm
from bench.results import BenchmarkRun, CaseResult

__all__ = ["Benchmark", "measured", "run_alone"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    command: str
    """How to run it alone, e.g. `make bench-sink`."""
    run: Callable[[bool], list[CaseResult]]
    """Measure every case (briefly when passed True) and print its tables on stdout."""


def measured(benchmark: Benchmark, quick: bool) -> BenchmarkRun:
    """Run the benchmark, timing it and metering the cores other work used meanwhile."""
    progress(f"{benchmark.name}: starting ({benchmark.command}{', quick' if quick else ''})")
    started = time.monotonic()
    with NeighbourMeter() as meter:
        cases = benchmark.run(quick)
    seconds = time.monotonic() - started
    return BenchmarkRun(benchmark.name, benchmark.command, seconds, meter.others_cores, cases)


def run_alone(benchmark: Benchmark) -> None:
    """A benchmark's own command: SIGTERM unwinds (stopping what it started), `BENCH_QUICK=1`
    makes its runs brief, and the noise it ran in closes its output."""
    stop_on_sigterm()
    load_before = os.getloadavg()[0]
    run = measured(benchmark, quick_mode())
    print(
        f"\n{os.cpu_count()} cores; other work on the machine used {run.others_cores:.2f} of them "
        f"on average during the benchmark; 1-minute load average before: {load_before:.1f}, "
        f"after: {os.getloadavg()[0]:.1f}."
    )
