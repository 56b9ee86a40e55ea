"""`python -m bench.gateway` (`make bench-gateway`): one gateway process's requests/s, latency
and CPU per event; see bench/gateway/throughput.py."""

from bench.gateway.throughput import BENCHMARK
from bench.runner import run_alone

if __name__ == "__main__":
    run_alone(BENCHMARK)
