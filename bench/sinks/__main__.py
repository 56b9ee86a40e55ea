"""`python -m bench.sinks` (`make bench-sink`): one sink's rows/s into ClickHouse and the
pipeline's freshness; see bench/sinks/benchmark.py."""

from bench.runner import run_alone
from bench.sinks.benchmark import BENCHMARK

if __name__ == "__main__":
    run_alone(BENCHMARK)
