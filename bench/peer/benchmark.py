"""Headwater's gateway and a compiled peer, Benthos, side by side in one run.

Both serve the same requests into the same broker (started beside them, or `KAFKA_BOOTSTRAP`) on
this 2-core machine, with wrk (1 thread) as the load: the gateway as users start it (`headwater
gateway`: uvicorn, one worker process), Benthos v4.27.0 (benthos.py) with bench/peer/benthos.yaml,
which does what the gateway does on the two paths and answers only after Kafka's ack (acks=all,
idempotent writes). The cases are bench/gateway/throughput.py's:

- single: Vemetric `POST /e`, the seed's pageview, 64 connections;
- bulk: Usermaven `POST /api/v1/s2s/event`, BULK_SIZE (100) events per request, 16 connections.

Before the load, one request to each server and its records read back: each must be a valid
`Event`, keyed and placed by Headwater's rule (records.py). Then per case a warm-up of each
server, and RUNS (3) rounds of one gateway run and one peer run of 10 s each, alternating, so the
shared machine's slow spells fall on both: req/s, p50, p99, and from /proc each server's CPU per
request (the fair figure where three processes share two cores) and the broker's. Last, the
broker's limit for the same records, without HTTP (broker.py). The ratios are Headwater's over
the peer's: below 1.0 the gateway uses less CPU, has the lower p99 or serves fewer requests.

    make bench-peer
    BENCH_QUICK=1 make bench-peer          # one short round of each: checks the wiring
    CASES=single RUNS=5 make bench-peer
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import cpu_seconds
from bench.environment import (
    BenchEnvironment,
    bench_environment,
    component_argv,
    free_port,
    progress,
    serving,
)
from bench.gateway.throughput import Case, check_answer, selected_cases
from bench.gateway.wrk import Plan, measured_run, write_lua, wrk
from bench.peer.benthos import benthos_binary, serving_benthos
from bench.peer.broker import ProducerRun, aiokafka_pipelined, producer_performance
from bench.peer.records import Written, written_by
from bench.peer.report import (
    ServerRun,
    broker_results,
    print_broker,
    print_case,
    side_by_side,
)
from bench.results import CaseResult
from bench.runner import Benchmark

__all__ = ["BENCHMARK", "Server", "run"]

GATEWAY, PEER = "headwater", "benthos"
BROKER_RECORDS = {"ProducerPerformance": 500_000, "aiokafka pipelined": 200_000}
QUICK_BROKER_RECORDS = 20_000


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    """Its base URL."""
    pid: int


def run(quick: bool) -> list[CaseResult]:
    """Build Benthos if need be, start a broker, the gateway and Benthos, and load both in turn."""
    plan = _plan(quick)
    binary = benthos_binary()
    results: list[CaseResult] = []
    with bench_environment(tools=("wrk",)) as bench:
        broker_pid = bench.service_pids.get("kafka")
        cases = selected_cases(bench.credentials)
        with _servers(bench, binary, max(c.connections for c in cases)) as servers:
            samples = []
            for case in cases:
                samples.append(_checked(case, servers, bench))
                rounds = _alternating(case, servers, bench, plan, broker_pid)
                print_case(case, rounds)
                results += side_by_side(case, rounds)
        results += _broker_limit(bench, samples[0], quick, plan.runs, broker_pid)
    return results


def _plan(quick: bool) -> Plan:
    if quick:
        return Plan.quick()
    return Plan(runs=int(os.environ.get("RUNS", Plan.runs)))


@contextmanager
def _servers(bench: BenchEnvironment, binary: Path, in_flight: int) -> Iterator[list[Server]]:
    """The gateway and Benthos, both ready, on ports of their own."""
    gateway_port, peer_port = free_port(), free_port()
    env = {
        **bench.env,
        "HEADWATER_GATEWAY_PORT": str(gateway_port),
        "HEADWATER_GATEWAY_WORKERS": "1",
    }
    with (
        serving(component_argv("gateway"), env, gateway_port) as gateway,
        serving_benthos(binary, bench, peer_port, in_flight) as peer,
    ):
        progress(
            f"gateway ready (pid {gateway.pid}, port {gateway_port}), "
            f"Benthos ready (pid {peer.pid}, port {peer_port})"
        )
        yield [
            Server(GATEWAY, f"http://127.0.0.1:{gateway_port}", gateway.pid),
            Server(PEER, f"http://127.0.0.1:{peer_port}", peer.pid),
        ]


def _checked(case: Case, servers: list[Server], bench: BenchEnvironment) -> Written:
    """Each server's answer and records for one request of the case; the gateway's records."""
    written = {}
    for server in servers:
        url = server.url + case.path
        check_answer(case, url)
        written[server.name] = written_by(
            server.name, bench.bootstrap, url, case.body, case.events_per_request
        )
        progress(f"{case.name}: {server.name} wrote {written[server.name].describe()}")
    return written[GATEWAY]


def _alternating(
    case: Case, servers: list[Server], bench: BenchEnvironment, plan: Plan, broker_pid: int | None
) -> dict[str, list[ServerRun]]:
    """A warm-up of each server, then `plan.runs` rounds of one run of each, in turn."""
    script = write_lua(bench.data_dir / f"{case.name}.lua", case.body)
    for server in servers:
        progress(f"{case.name}: {server.name}: warm-up ({plan.duration})")
        wrk(server.url + case.path, script, case.connections, plan.duration)
    rounds: dict[str, list[ServerRun]] = {server.name: [] for server in servers}
    for i in range(1, plan.runs + 1):
        for server in servers:
            broker_before = cpu_seconds(broker_pid) if broker_pid else 0.0
            result = measured_run(
                server.url + case.path, script, case.connections, plan.duration, server.pid
            )
            broker = cpu_seconds(broker_pid) - broker_before if broker_pid else 0.0
            rounds[server.name].append(ServerRun(result, broker * 1e6 / max(result.requests, 1)))
            progress(f"{case.name}: round {i}/{plan.runs}: {server.name}: {result.describe()}")
    return rounds


def _broker_limit(
    bench: BenchEnvironment, sample: Written, quick: bool, runs: int, broker_pid: int | None
) -> list[CaseResult]:
    """Kafka's ProducerPerformance and the pipelined aiokafka producer, alternating, on the
    gateway's first record of the first case (its size; its key and value for aiokafka)."""
    key, value = sample.keys[0], sample.values[0]
    producers: dict[str, Callable[[int], ProducerRun]] = {
        "ProducerPerformance": lambda n: producer_performance(
            bench.bootstrap, n, len(value), broker_pid
        ),
        "aiokafka pipelined": lambda n: aiokafka_pipelined(
            bench.bootstrap, n, key, value, broker_pid
        ),
    }
    measured: dict[str, list[ProducerRun]] = {name: [] for name in producers}
    for i in range(1, runs + 1):
        for name, produce in producers.items():
            done = produce(QUICK_BROKER_RECORDS if quick else BROKER_RECORDS[name])
            progress(f"broker's limit: round {i}/{runs}: {name}: {done.describe()}")
            measured[name].append(done)
    print_broker(measured, len(value))
    return broker_results(measured)


BENCHMARK = Benchmark("peer", "make bench-peer", run)
