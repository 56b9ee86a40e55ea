"""Instructions per request of the gateway's own Python work: repeatable where wrk is not.

On a shared 2-core machine wrk's rates move by ±25% between identical runs; instruction counts
(valgrind's callgrind) do not. bench/gateway/in_process.py drives the whole ASGI app in process
(routing, middleware, body reading, parsing, the response) with Kafka's acknowledgement answered
at once, so it counts the gateway's work per request and none of the broker's or the network's.
Each case runs twice under callgrind, with 0 and with N requests after one warm-up; the
difference over N is the cost of one request. Needs `valgrind` (Debian's package).

    make bench-instructions                           # both cases
    python -m bench.gateway.in_process single 100     # one process, no valgrind
"""

import re
import shutil
import subprocess
import sys

from bench.environment import REPO_ROOT, progress
from bench.gateway.bodies import BULK_SIZE
from bench.results import CaseResult
from bench.runner import Benchmark, run_alone

__all__ = ["BENCHMARK", "run"]

REQUESTS = {"single": 3000, "bulk": 200}
QUICK_REQUESTS = {"single": 100, "bulk": 10}
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(case: str, count: int) -> int:
    """Instructions callgrind counted in a process that sends one warm-up and `count` requests."""
    argv = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.gateway.in_process", case, str(count),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def run(quick: bool) -> list[CaseResult]:
    """Each case: instructions per request and per event, on stdout as a markdown table."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    print("| case | requests | instructions per request | per event |")
    print("|---|---|---|---|")
    results = []
    for case, count in (QUICK_REQUESTS if quick else REQUESTS).items():
        progress(f"{case}: callgrind, 0 and {count} requests")
        per_request = (instructions(case, count) - instructions(case, 0)) / count
        per_event = per_request / (BULK_SIZE if case == "bulk" else 1)
        print(f"| {case} | {count} | {per_request:,.0f} | {per_event:,.0f} |", flush=True)
        figures = {"instructions_per_request": per_request, "instructions_per_event": per_event}
        results.append(CaseResult(case, figures, [per_request]))
    return results


BENCHMARK = Benchmark("gateway: instructions", "make bench-instructions", run)

if __name__ == "__main__":
    run_alone(BENCHMARK)
