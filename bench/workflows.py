"""How fast does the Embed Workflow API answer, and how soon does another gateway process see a
write?

Workflow state lives on the one-partition compacted topic `headwater.workflows`, replicated into
every gateway process: a write is answered once the answering process's replica has applied it,
and the other processes apply it within their fetch wait. So a write's latency is a round trip
through Kafka, and a read on another process may briefly miss it. This benchmark starts a broker
(or uses `KAFKA_BOOTSTRAP`) and TWO gateway processes as users start them (`headwater gateway`,
one worker each), all on this machine, and sends REQUESTS (default 500) requests of each kind,
one at a time, with the dev project's secret workflow key:

- create: `POST /workflows` on process A; latency and A's CPU per request (/proc, its worker
  included; the span also holds A's idle background while B is polled).
- visible on B: after each create's answer, `GET /workflows/:id` on process B every millisecond
  until it answers 200; the time from A's answer to B's 200 (one GET's round trip included).
- update: `PUT /workflows/:id` (a new name) of each created workflow, on A.
- trigger: `POST /trigger` of an event with a fresh `Idempotency-Key` on A (claim the key, record
  the command, store the answer); then replay: every request again, same key and body, which A
  answers from its replica (`Idempotent-Replayed: true`).

Progress goes to stderr, the table (markdown) to stdout.

    make bench-workflows
    REQUESTS=2000 make bench-workflows
"""

import http.client
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import orjson

from bench.cpu import cpu_seconds
from bench.environment import (
    BenchEnvironment,
    bench_environment,
    component_argv,
    free_port,
    progress,
    serving,
)
from bench.results import CaseResult, percentile
from bench.runner import Benchmark, run_alone

__all__ = ["BENCHMARK", "Api", "Reply", "Sample", "run"]

DEFAULT_REQUESTS = 500
QUICK_REQUESTS = 30
WARMUP_REQUESTS = 20
POLL_INTERVAL_S = 0.001
VISIBLE_TIMEOUT_S = 10.0
EVENT = "bench_signed_up"
IDLE_S = 3.0


@dataclass(frozen=True)
class Reply:
    """A 200 answer, how long it took, and when it arrived (perf_counter seconds)."""

    response: http.client.HTTPResponse
    body: bytes
    ms: float
    at: float


class Api:
    """One keep-alive connection to a gateway's `/api/v1`, authenticated with a secret key: a
    plain stdlib client, so the client's own cost stays small beside the gateway's."""

    def __init__(self, port: int, secret_key: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._headers = {"Authorization": f"Bearer {secret_key}"}

    def call(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """The answer and its body; the body sent as JSON when there is one."""
        sent = {**self._headers, **(headers or {})}
        payload = None
        if body is not None:
            payload = orjson.dumps(body)
            sent["Content-Type"] = "application/json"
        self._connection.request(method, f"/api/v1{path}", payload, sent)
        response = self._connection.getresponse()
        return response, response.read()

    def ok(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> Reply:
        """Like `call`, timed; anything other than 200 fails the benchmark (with the gateway's
        reason), since a figure over failed requests would measure the wrong thing."""
        started = time.perf_counter()
        response, answer = self.call(method, path, body, headers)
        ended = time.perf_counter()
        if response.status != 200:
            raise SystemExit(f"{method} {path}: {response.status} {answer[:500]!r}")
        return Reply(response, answer, (ended - started) * 1000, ended)

    def close(self) -> None:
        self._connection.close()


@dataclass
class Sample:
    """One kind of request's latencies (ms) and the gateway's CPU seconds over them."""

    case: str
    latencies_ms: list[float]
    cpu_s: float | None = None

    def figures(self) -> dict[str, float]:
        figures = {
            "p50_ms": percentile(self.latencies_ms, 50),
            "p99_ms": percentile(self.latencies_ms, 99),
            "max_ms": max(self.latencies_ms),
        }
        if self.cpu_s is not None:
            figures["cpu_us_per_event"] = self.cpu_s / len(self.latencies_ms) * 1e6
        return figures

    def result(self) -> CaseResult:
        figures = self.figures()
        return CaseResult(self.case, figures, [figures["p50_ms"]])


def _wait_visible(api: Api, workflow_id: str) -> None:
    """Ask every POLL_INTERVAL_S until the workflow answers 200."""
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    while api.call("GET", f"/workflows/{workflow_id}")[0].status != 200:
        if time.monotonic() > deadline:
            raise SystemExit(f"workflow {workflow_id} not visible on B after {VISIBLE_TIMEOUT_S} s")
        time.sleep(POLL_INTERVAL_S)


def creates(a: Api, b: Api, pid: int, count: int) -> tuple[Sample, Sample, list[str]]:
    """Create `count` workflows on A, each followed by polling B until it has it."""
    user, ids = f"bench-{uuid.uuid4().hex[:8]}", []
    create, visible = Sample("create", []), Sample("visible on B after A's answer", [])
    cpu_before = cpu_seconds(pid)
    for n in range(count):
        body = {"name": f"Workflow {n}", "user_key": user, "event_trigger": EVENT}
        reply = a.ok("POST", "/workflows", body)
        ids.append(str(orjson.loads(reply.body)["id"]))
        create.latencies_ms.append(reply.ms)
        _wait_visible(b, ids[-1])
        visible.latencies_ms.append((time.perf_counter() - reply.at) * 1000)
    create.cpu_s = cpu_seconds(pid) - cpu_before
    return create, visible, ids


def updates(a: Api, pid: int, ids: list[str]) -> Sample:
    """Rename each workflow on A (a new draft version through the log)."""
    update = Sample("update", [])
    cpu_before = cpu_seconds(pid)
    for n, workflow_id in enumerate(ids):
        reply = a.ok("PUT", f"/workflows/{workflow_id}", {"name": f"Renamed {n}"})
        update.latencies_ms.append(reply.ms)
    update.cpu_s = cpu_seconds(pid) - cpu_before
    return update


def triggers(a: Api, pid: int, count: int) -> tuple[Sample, Sample]:
    """`count` triggers with fresh Idempotency-Keys, then each again (a replay)."""
    run, body = uuid.uuid4().hex[:8], {"event": EVENT}
    keys = [{"Idempotency-Key": f"bench-{run}-{n}"} for n in range(count)]
    first, replay = Sample("trigger, first", []), Sample("trigger, replay", [])
    for sample, replayed in ((first, None), (replay, "true")):
        cpu_before = cpu_seconds(pid)
        for headers in keys:
            reply = a.ok("POST", "/trigger", body, headers)
            if reply.response.getheader("Idempotent-Replayed") != replayed:
                raise SystemExit(f"{sample.case}: Idempotent-Replayed is not {replayed!r}")
            sample.latencies_ms.append(reply.ms)
        sample.cpu_s = cpu_seconds(pid) - cpu_before
    return first, replay


@contextmanager
def two_gateways(bench: BenchEnvironment) -> Iterator[tuple[Api, Api, int]]:
    """Gateways A and B (one worker each, on free ports): a client of each, and A's pid."""
    key = bench.credentials.workflows_secret_key
    if not key:
        raise SystemExit("the dev project has no workflow keys (credentials.workflows_secret_key)")
    with ExitStack() as stack:
        apis, pids = [], []
        for name in ("A", "B"):
            port = free_port()
            env = {
                **bench.env,
                "HEADWATER_GATEWAY_PORT": str(port),
                "HEADWATER_GATEWAY_WORKERS": "1",
            }
            gateway = stack.enter_context(serving(component_argv("gateway"), env, port))
            progress(f"gateway {name} ready: pid {gateway.pid}, port {port}")
            api = Api(port, key)
            stack.callback(api.close)
            apis.append(api)
            pids.append(gateway.pid)
        yield apis[0], apis[1], pids[0]


def measure(bench: BenchEnvironment, count: int) -> tuple[list[Sample], float]:
    """A warm-up of each kind of request, then `count` of each, measured; and A's CPU use when
    idle (ms per second), the background the per-request figures hold a share of."""
    with two_gateways(bench) as (a, b, pid):
        progress(f"warm-up: {WARMUP_REQUESTS} of each request")
        _, _, warm_ids = creates(a, b, pid, WARMUP_REQUESTS)
        updates(a, pid, warm_ids)
        triggers(a, pid, WARMUP_REQUESTS)
        cpu_before = cpu_seconds(pid)
        time.sleep(IDLE_S)
        idle_ms_per_s = (cpu_seconds(pid) - cpu_before) / IDLE_S * 1000
        progress(f"creates, each then polled on B: {count}")
        create, visible, ids = creates(a, b, pid, count)
        progress(f"updates: {count}")
        update = updates(a, pid, ids)
        progress(f"triggers with an Idempotency-Key, then their replays: {count}")
        first, replay = triggers(a, pid, count)
    return [create, visible, update, first, replay], idle_ms_per_s


def print_table(samples: list[Sample], count: int, idle_ms_per_s: float) -> None:
    print(
        f"\n| request (one at a time, {count} of each) | p50 ms | p99 ms | max ms "
        "| gateway A CPU µs/request |"
    )
    print("|---|---|---|---|---|")
    for sample in samples:
        figures = sample.figures()
        cpu = figures.get("cpu_us_per_event")
        print(
            f"| {sample.case} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} "
            f"| {figures['max_ms']:.2f} | {'-' if cpu is None else f'{cpu:,.0f}'} |",
            flush=True,
        )
    print(f"\nGateway A idle: {idle_ms_per_s:.1f} ms of CPU per second.", flush=True)


def run(quick: bool) -> list[CaseResult]:
    """REQUESTS of each request (a few when `quick`) against two gateways and one broker."""
    count = int(os.environ.get("REQUESTS", QUICK_REQUESTS if quick else DEFAULT_REQUESTS))
    with bench_environment() as bench:
        samples, idle_ms_per_s = measure(bench, count)
    print_table(samples, count, idle_ms_per_s)
    return [sample.result() for sample in samples]


BENCHMARK = Benchmark("workflows", "make bench-workflows", run)

if __name__ == "__main__":
    run_alone(BENCHMARK)
