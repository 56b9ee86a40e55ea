"""`python -m bench.processors` (`make bench-processors ARGS=...`): one processor worker's
events/s, added latency, state and faust's floor; see bench/processors/benchmark.py."""

import dataclasses

from bench.processors.benchmark import BENCHMARK, arguments, measure
from bench.runner import run_alone

if __name__ == "__main__":
    options = arguments()
    run_alone(dataclasses.replace(BENCHMARK, run=lambda quick: measure(options)))
