"""How much does one gateway process carry? Requests/s and latency of single events; bulk events/s.

The gateway starts the way users start it, `headwater gateway` (uvicorn, one worker process),
against a broker the benchmark starts beside it (or `KAFKA_BOOTSTRAP`), on the same 2-core
machine as wrk (1 thread), so all three share the CPU. Every request waits for Kafka's ack of
each of its events before the gateway answers. Two cases:

- single: Vemetric `POST /e`, one pageview per request, 64 connections: requests/s, p50 and p99.
  Target: at least 8,000 requests/s with p99 under 25 ms.
- bulk: Usermaven `POST /api/v1/s2s/event`, a JSON array of BULK_SIZE events (default 100) per
  request, 16 connections: events/s (requests/s x events per request).
  Target: at least 100,000 events/s.

Each case has a warm-up run, then 3 runs of 10 s; the table (markdown, on stdout) holds the
medians and the gateway's CPU per event (/proc), progress goes to stderr. Any non-2xx answer or
socket error fails the benchmark.

    make bench-gateway                                  # starts its own broker
    KAFKA_BOOTSTRAP=127.0.0.1:9092 make bench-gateway   # or uses yours
    CASES=single BULK_SIZE=500 make bench-gateway       # one case; a bigger bulk body
"""

import math
import os
from dataclasses import dataclass
from urllib.parse import quote

import orjson

from bench.environment import (
    BenchEnvironment,
    bench_environment,
    component_argv,
    free_port,
    progress,
    serving,
)
from bench.gateway.bodies import vemetric_pageview
from bench.gateway.wrk import Plan, WrkResult, measure, post_once, write_lua
from bench.results import CaseResult
from bench.runner import Benchmark
from headwater.keys import DevCredentials

__all__ = ["BENCHMARK", "Case", "run"]

DEFAULT_BULK_SIZE = 100


@dataclass(frozen=True)
class Case:
    """One request, sent unchanged by every connection, and what it must achieve."""

    name: str
    path: str
    body: bytes
    events_per_request: int
    connections: int
    min_requests_per_s: float = 0.0
    max_p99_ms: float = math.inf
    min_events_per_s: float = 0.0
    expected_answer: object = None
    """The parsed JSON body of a success, when the vendor answers with one."""

    def events_per_s(self, result: WrkResult) -> float:
        return result.requests_per_s * self.events_per_request

    def meets_target(self, result: WrkResult) -> bool:
        return (
            result.requests_per_s >= self.min_requests_per_s
            and result.p99_ms < self.max_p99_ms
            and self.events_per_s(result) >= self.min_events_per_s
        )

    def cpu_us_per_event(self, result: WrkResult) -> float:
        return (result.cpu_us_per_request or 0.0) / self.events_per_request


def single_case(credentials: DevCredentials) -> Case:
    return Case(
        name="single",
        path="/e",
        body=vemetric_pageview(credentials.vemetric_token),
        events_per_request=1,
        connections=64,
        min_requests_per_s=8_000,
        max_p99_ms=25.0,
    )


def bulk_case(credentials: DevCredentials, size: int) -> Case:
    api_key = credentials.usermaven_token.split(".")[0]
    events = [
        {
            "api_key": api_key,
            "event_type": "plan_upgraded",
            "event_attributes": {"amount": i, "currency": "USD"},
            "user": {
                "id": f"user_{i % 10}",
                "anonymous_id": f"anon_{i % 10}",
                "email": "user@domain.com",
            },
            "url": "http://localhost:3000/example",
        }
        for i in range(size)
    ]
    return Case(
        name="bulk",
        path=f"/api/v1/s2s/event?token={quote(credentials.usermaven_token)}",
        body=orjson.dumps(events),
        events_per_request=size,
        connections=16,
        min_events_per_s=100_000,
        expected_answer={"status": "ok"},
    )


def selected_cases(credentials: DevCredentials) -> list[Case]:
    """The cases named in `CASES` (comma-separated; default: all), in that order; the bulk body
    holds `BULK_SIZE` events."""
    bulk_size = int(os.environ.get("BULK_SIZE", DEFAULT_BULK_SIZE))
    cases = {c.name: c for c in (single_case(credentials), bulk_case(credentials, bulk_size))}
    names = [name.strip() for name in os.environ.get("CASES", ",".join(cases)).split(",")]
    unknown = [name for name in names if name not in cases]
    if unknown:
        raise SystemExit(f"unknown CASES {unknown}; known: {', '.join(cases)}")
    return [cases[name] for name in names]


def check_answer(case: Case, url: str) -> None:
    """One request before the load: a missing endpoint or a wrong answer fails here, at once."""
    answer = post_once(url, case.body)
    if case.expected_answer is not None and _json_or_none(answer) != case.expected_answer:
        raise SystemExit(f"{case.name}: expected {case.expected_answer!r}, got {answer[:500]!r}")


def _json_or_none(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def run_case(
    case: Case, base_url: str, bench: BenchEnvironment, gateway_pid: int, plan: Plan
) -> list[WrkResult]:
    url = f"{base_url}{case.path}"
    check_answer(case, url)
    script = write_lua(bench.data_dir / f"{case.name}.lua", case.body)
    return measure(case.name, url, script, case.connections, plan, server_pid=gateway_pid)


def print_header(plan: Plan) -> None:
    print(
        f"| case | events/request | connections | req/s (median of {plan.runs}) | p50 ms "
        "| p99 ms | events/s | gateway CPU µs/event | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|")


def print_row(case: Case, result: WrkResult) -> None:
    verdict = "met" if case.meets_target(result) else "missed"
    print(
        f"| {case.name} | {case.events_per_request} | {case.connections} "
        f"| {result.requests_per_s:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} "
        f"| {case.events_per_s(result):,.0f} | {case.cpu_us_per_event(result):.1f} | {verdict} |",
        flush=True,
    )


def case_result(case: Case, runs: list[WrkResult]) -> CaseResult:
    median = WrkResult.median(runs)
    figures = median.figures() | {
        "events_per_s": case.events_per_s(median),
        "cpu_us_per_event": case.cpu_us_per_event(median),
    }
    return CaseResult(case.name, figures, [r.requests_per_s for r in runs])


def run(quick: bool) -> list[CaseResult]:
    """Start a broker and one gateway; load it with each selected case in turn."""
    plan = Plan.quick() if quick else Plan()
    results = []
    with bench_environment(tools=("wrk",)) as bench:
        cases = selected_cases(bench.credentials)
        port = free_port()
        env = {**bench.env, "HEADWATER_GATEWAY_PORT": str(port), "HEADWATER_GATEWAY_WORKERS": "1"}
        with serving(component_argv("gateway"), env, port) as gateway:
            progress(f"gateway ready: pid {gateway.pid}, port {port}")
            print_header(plan)
            for case in cases:
                runs = run_case(case, f"http://127.0.0.1:{port}", bench, gateway.pid, plan)
                print_row(case, WrkResult.median(runs))
                results.append(case_result(case, runs))
    return results


BENCHMARK = Benchmark("gateway", "make bench-gateway", run)
