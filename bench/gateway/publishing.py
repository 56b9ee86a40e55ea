"""CPU per record of the gateway's publisher alone, on a broker of the benchmark's own.

bench/gateway/instructions.py answers Kafka's acknowledgement at once, so it counts none of the
publisher's work; wrk's figures hold it among everything else. This measures only
`RecordPublisher.publish`, in waves of concurrent requests as bench/gateway/throughput.py's loads
send them (64 requests of one record, or 16 of BULK_SIZE records), every record acknowledged
(acks=all, idempotent): the driver process's own CPU time per record (the producer's sender and
connection included; the broker is another process), after three warm-up waves. Median of 3
runs per case, each a fresh process.

    python -m bench.gateway.publishing                 # both cases
    python -m bench.gateway.publishing single 150      # one driver process (KAFKA_BOOTSTRAP)
"""

import asyncio
import statistics
import subprocess
import sys
import time

from bench.environment import REPO_ROOT, bench_environment, progress
from bench.gateway.bodies import BULK_SIZE, in_process_requests
from bench.results import CaseResult
from bench.runner import Benchmark, run_alone
from gateway.metrics import GatewayMetrics
from gateway.publisher import RecordPublisher
from gateway.records import OutgoingRecord
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings
from schemas import topics

__all__ = ["BENCHMARK", "drive", "run"]

SHAPES = {"single": (1, 64), "bulk": (BULK_SIZE, 16)}  # records per request, concurrent requests
WAVES = {"single": 150, "bulk": 15}
QUICK_WAVES = {"single": 15, "bulk": 2}
RUNS = 3
_VALUE = in_process_requests()["single"][2] * 3  # about an event's size
_WARM_UP_WAVES = 3
DRIVER = "bench.gateway.publishing"  # this module, run as a driver process


def _request(size: int, wave: int, index: int) -> list[OutgoingRecord]:
    """`size` records of many persons' keys, so they spread over the partitions."""
    first = wave * 7919 + index * size
    return [
        OutgoingRecord(topics.RAW, f"bench:{(first + i) % 5000}".encode(), _VALUE)
        for i in range(size)
    ]


async def drive(case: str, waves: int) -> float:
    """Warm-up waves, then `waves` waves of concurrent requests: CPU µs per record."""
    size, concurrency = SHAPES[case]
    async with RecordPublisher(KafkaSettings(), GatewaySettings(), GatewayMetrics()) as publisher:
        while not publisher.ready:
            await asyncio.sleep(0.01)
        started = 0.0
        for wave in range(_WARM_UP_WAVES + waves):
            if wave == _WARM_UP_WAVES:
                started = time.process_time()
            requests = [_request(size, wave, i) for i in range(concurrency)]
            await asyncio.gather(*map(publisher.publish, requests))
        return (time.process_time() - started) * 1e6 / (waves * size * concurrency)


def run(quick: bool) -> list[CaseResult]:
    """Each case: CPU µs per record, on stdout as a markdown table."""
    print(f"| case | records per run | CPU µs per record (median of {RUNS}) | runs |")
    print("|---|---|---|---|")
    results = []
    with bench_environment() as bench:
        for case, waves in (QUICK_WAVES if quick else WAVES).items():
            argv = [sys.executable, "-m", DRIVER, case, str(waves)]
            runs = []
            for i in range(1, RUNS + 1):
                progress(f"{case}: run {i}/{RUNS}")
                done = subprocess.run(
                    argv, env=bench.env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
                )
                runs.append(float(done.stdout.strip()))
            median = statistics.median(runs)
            size, concurrency = SHAPES[case]
            records, listed = waves * size * concurrency, ", ".join(f"{r:.1f}" for r in runs)
            print(f"| {case} | {records} | {median:.1f} | {listed} |", flush=True)
            results.append(CaseResult(case, {"cpu_us_per_record": median}, runs))
    return results


BENCHMARK = Benchmark("gateway: publisher", "python -m bench.gateway.publishing", run)

if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(asyncio.run(drive(sys.argv[1], int(sys.argv[2]))))
    else:
        run_alone(BENCHMARK)
