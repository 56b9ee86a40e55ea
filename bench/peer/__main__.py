"""`python -m bench.peer` (`make bench-peer`): the gateway and Benthos side by side; see
bench/peer/benchmark.py."""

from bench.peer.benchmark import BENCHMARK
from bench.runner import run_alone

if __name__ == "__main__":
    run_alone(BENCHMARK)
