"""`python -m bench` (`make bench`): every benchmark in turn, then one results file and the
latest results on docs/performance.md.

    python -m bench                          # all; docs/benchmarks.json and the page
    python -m bench --quick                  # each briefly, to check the wiring (results in /tmp)
    python -m bench --only gateway,sinks     # some (results in /tmp unless --out says otherwise)

Only a full run writes docs/benchmarks.json and the page by default: a quick or partial run
would replace the latest measurements with fewer or lesser ones.
"""

import argparse
import os
import tempfile
import traceback
from pathlib import Path

from bench.engine.benchmark import BENCHMARK as ENGINE
from bench.environment import progress, quick_mode, stop_on_sigterm
from bench.gateway import instructions, servers, throughput
from bench.page import PAGE, RESULTS_FILE, update_page
from bench.peer.benchmark import BENCHMARK as PEER
from bench.pipeline.benchmark import BENCHMARK as PIPELINE
from bench.processors.benchmark import BENCHMARK as PROCESSORS
from bench.results import BenchmarkRun, Results, write_results
from bench.runner import Benchmark, measured
from bench.sinks.benchmark import BENCHMARK as SINKS
from bench.workflows import BENCHMARK as WORKFLOWS

__all__ = ["BENCHMARKS", "main"]

ERROR_CHARS = 2000
"""How much of a failed benchmark's message the results file keeps (its end)."""
BENCHMARKS = {
    "gateway": throughput.BENCHMARK,
    "servers": servers.BENCHMARK,
    "instructions": instructions.BENCHMARK,
    "processors": PROCESSORS,
    "sinks": SINKS,
    "workflows": WORKFLOWS,
    "engine": ENGINE,
    "pipeline": PIPELINE,
    "peer": PEER,
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="brief runs: check the wiring")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, help="the results file (see above for the default)")
    args = parser.parse_args()
    args.quick = args.quick or quick_mode()
    return args


def _selected(only: str | None) -> list[Benchmark]:
    names = [name.strip() for name in only.split(",")] if only else list(BENCHMARKS)
    if unknown := [name for name in names if name not in BENCHMARKS]:
        raise SystemExit(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    return [BENCHMARKS[name] for name in names]


def main() -> None:
    args = _arguments()
    stop_on_sigterm()
    selected = _selected(args.only)
    full = not args.quick and len(selected) == len(BENCHMARKS)
    out = args.out or (RESULTS_FILE if full else Path(tempfile.gettempdir()) / "benchmarks.json")
    load_before = os.getloadavg()[0]
    runs = []
    for number, benchmark in enumerate(selected, 1):
        progress(f"=== benchmark {number}/{len(selected)}: {benchmark.name} ===")
        runs.append(_attempt(benchmark, args.quick))
        print(flush=True)
    results = Results.now(args.quick, load_before, runs)
    write_results(results, out)
    progress(f"results: {out}")
    if out.resolve() == RESULTS_FILE.resolve():
        update_page(results)
        progress(f"latest results rendered into {PAGE}")
    if failed := [run.name for run in runs if run.error]:
        raise SystemExit(f"failed: {', '.join(failed)} (the results file says why)")


def _attempt(benchmark: Benchmark, quick: bool) -> BenchmarkRun:
    """Run one benchmark; a failure is recorded, and the others still run. Ctrl-C and SIGTERM
    (KeyboardInterrupt) stop the whole run."""
    try:
        return measured(benchmark, quick)
    except (Exception, SystemExit) as exc:
        traceback.print_exc()
        error = (str(exc) or repr(exc))[-ERROR_CHARS:]
        progress(f"{benchmark.name} failed: {error}")
        return BenchmarkRun(benchmark.name, benchmark.command, 0.0, 0.0, [], error)


if __name__ == "__main__":
    main()
