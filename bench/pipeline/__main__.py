"""`python -m bench.pipeline` (`make bench-pipeline ARGS=...`): the whole pipeline on this box,
its sustainable rate, freshness and CPU per event; see bench/pipeline/benchmark.py."""

import dataclasses

from bench.pipeline.benchmark import BENCHMARK, arguments, measure
from bench.runner import run_alone

if __name__ == "__main__":
    options = arguments()
    run_alone(dataclasses.replace(BENCHMARK, run=lambda quick: measure(options)))
