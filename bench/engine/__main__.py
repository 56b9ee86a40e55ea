"""`python -m bench.engine` (`make bench-engine ARGS=...`): pending delays, trigger-to-webhook
latency and timer lateness of one engine worker; see bench/engine/benchmark.py."""

import dataclasses

from bench.engine.benchmark import BENCHMARK, arguments, measure
from bench.runner import run_alone

if __name__ == "__main__":
    options = arguments()
    run_alone(dataclasses.replace(BENCHMARK, run=lambda quick: measure(options)))
