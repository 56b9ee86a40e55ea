"""How many rows/s does one sink process write into ClickHouse, and how fresh are they?

Everything runs on this machine (2 cores here): a broker and a ClickHouse HTTP server the
benchmark starts (or `KAFKA_BOOTSTRAP` / `CLICKHOUSE_URL`; either way in a database of its own),
the components as users start them (`python -m headwater <component>`, default settings), and
the load, all sharing the CPU. Two cases, each described in its module:

- throughput (throughput.py): ROWS processed events (default 500,000) loaded by one sink; rows/s
  and CPU per row, median of RUNS (3). Target: at least 150,000 rows/s per sink process.
- freshness (freshness.py): gateway, processors and sink under RATE requests/s (5,000) for
  DURATION_S (30) after WARMUP_S (5); p50/p99/max from the 200 to the row. Target: p99 < 2 s.

Progress goes to stderr, the tables (markdown) to stdout.

    make bench-sink
    CASES=freshness RATE=2000 make bench-sink
    ROWS=200000 RUNS=1 PROFILE=/tmp/sink-profile.txt CASES=throughput make bench-sink
"""

import os
import subprocess
from collections.abc import Callable

from bench.environment import bench_environment, component_argv
from bench.results import CaseResult
from bench.runner import Benchmark
from bench.sinks.freshness import freshness
from bench.sinks.throughput import throughput

__all__ = ["BENCHMARK", "run"]

CASES = ("throughput", "freshness")
DEFAULTS = {"ROWS": 500_000, "RUNS": 3, "RATE": 5000, "DURATION_S": 30, "WARMUP_S": 5}
QUICK = {"ROWS": 20_000, "RUNS": 1, "RATE": 500, "DURATION_S": 3, "WARMUP_S": 2}


def run(quick: bool) -> list[CaseResult]:
    """The cases named in `CASES` (comma-separated; default: both), sized by the environment's
    ROWS, RUNS, RATE, DURATION_S and WARMUP_S (brief defaults when `quick`)."""
    names = [name.strip() for name in os.environ.get("CASES", ",".join(CASES)).split(",")]
    if unknown := [name for name in names if name not in CASES]:
        raise SystemExit(f"unknown CASES {unknown}; known: {', '.join(CASES)}")
    sizes = QUICK if quick else DEFAULTS
    size = {name: float(os.environ.get(name, default)) for name, default in sizes.items()}
    with bench_environment(clickhouse=True) as bench:
        migrate = component_argv("migrate")
        subprocess.run(migrate, env=bench.env, check=True, stdout=subprocess.DEVNULL)
        db = bench.clickhouse()
        cases: dict[str, Callable[[], CaseResult]] = {
            "throughput": lambda: throughput(bench, db, int(size["ROWS"]), int(size["RUNS"])),
            "freshness": lambda: freshness(
                bench, db, size["RATE"], size["DURATION_S"], size["WARMUP_S"]
            ),
        }
        return [cases[name]() for name in names]


BENCHMARK = Benchmark("sinks", "make bench-sink", run)
