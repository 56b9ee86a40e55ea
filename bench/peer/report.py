"""The side-by-side's tables (markdown, on stdout) and its results-file cases: each server's
medians, the ratios of Headwater's figures to the peer's, and the broker's limit.
"""

import statistics
from dataclasses import dataclass

from bench.gateway.throughput import Case
from bench.gateway.wrk import WrkResult
from bench.peer.broker import ProducerRun
from bench.results import CaseResult

__all__ = ["ServerRun", "broker_results", "print_broker", "print_case", "side_by_side"]


@dataclass(frozen=True)
class ServerRun:
    """One wrk run against one server, and the broker's CPU per request meanwhile."""

    result: WrkResult
    broker_cpu_us_per_request: float


def _medians(runs: list[ServerRun]) -> tuple[WrkResult, float]:
    """The median wrk figures and the median broker CPU per request."""
    return (
        WrkResult.median([run.result for run in runs]),
        statistics.median(run.broker_cpu_us_per_request for run in runs),
    )


def _ratios(case: Case, rounds: dict[str, list[ServerRun]]) -> dict[str, float]:
    """Headwater's median over the peer's: CPU per request, p99, requests/s."""
    (ours, _), (peer, _) = (_medians(runs) for runs in rounds.values())
    return {
        "cpu_ratio": (ours.cpu_us_per_request or 0.0) / (peer.cpu_us_per_request or 1.0),
        "p99_ratio": ours.p99_ms / peer.p99_ms,
        "requests_per_s_ratio": ours.requests_per_s / peer.requests_per_s,
    }


def print_case(case: Case, rounds: dict[str, list[ServerRun]]) -> None:
    runs = len(next(iter(rounds.values())))
    print(
        f"\n**{case.name}** ({case.events_per_request} events/request, {case.connections} "
        f"connections; medians of {runs} alternating runs)\n\n"
        "| server | req/s | p50 ms | p99 ms | events/s | CPU µs/request | CPU µs/event "
        "| broker CPU µs/event |\n|---|---|---|---|---|---|---|---|"
    )
    for name, server_runs in rounds.items():
        median, broker = _medians(server_runs)
        cpu = median.cpu_us_per_request or 0.0
        print(
            f"| {name} | {median.requests_per_s:,.0f} | {median.p50_ms:.2f} | {median.p99_ms:.2f} "
            f"| {case.events_per_s(median):,.0f} | {cpu:.1f} "
            f"| {cpu / case.events_per_request:.2f} "
            f"| {broker / case.events_per_request:.2f} |"
        )
    ratios = _ratios(case, rounds)
    print(
        f"\nHeadwater / peer: CPU per request {ratios['cpu_ratio']:.2f}x, "
        f"p99 {ratios['p99_ratio']:.2f}x, req/s {ratios['requests_per_s_ratio']:.2f}x "
        "(targets: CPU ≤ 1.0x, p99 ≤ 1.0x)",
        flush=True,
    )


def side_by_side(case: Case, rounds: dict[str, list[ServerRun]]) -> list[CaseResult]:
    """A case per server (headline: req/s), and one of the ratios (headline: the CPU ratio of
    each round)."""
    results = []
    for name, server_runs in rounds.items():
        median, broker = _medians(server_runs)
        figures = median.figures() | {
            "events_per_s": case.events_per_s(median),
            "cpu_us_per_event": case.cpu_us_per_event(median),
            "broker_cpu_us_per_event": broker / case.events_per_request,
        }
        runs = [run.result.requests_per_s for run in server_runs]
        results.append(CaseResult(f"{case.name}: {name}", figures, runs))
    ours, peer = rounds.values()
    per_round = [
        (a.result.cpu_us_per_request or 0.0) / (b.result.cpu_us_per_request or 1.0)
        for a, b in zip(ours, peer, strict=True)
    ]
    names = " / ".join(rounds)
    results.append(CaseResult(f"{case.name}: {names}", _ratios(case, rounds), per_round))
    return results


def _median_run(runs: list[ProducerRun]) -> ProducerRun:
    return ProducerRun(
        statistics.median(r.records_per_s for r in runs),
        statistics.median(r.cpu_us_per_record for r in runs),
        statistics.median(r.broker_cpu_us_per_record for r in runs),
        statistics.median(r.p99_ms for r in runs),
    )


def print_broker(measured: dict[str, list[ProducerRun]], record_bytes: int) -> None:
    runs = len(next(iter(measured.values())))
    print(
        f"\n**the broker's limit** (one producer, acks=all, idempotent, records of {record_bytes} "
        f"bytes; medians of {runs} alternating runs; aiokafka's p99 is its batches' send-to-ack)"
        "\n\n| producer | records/s | CPU µs/record | broker CPU µs/record | p99 ms |\n"
        "|---|---|---|---|---|"
    )
    for name, runs_of in measured.items():
        median = _median_run(runs_of)
        print(
            f"| {name} | {median.records_per_s:,.0f} | {median.cpu_us_per_record:.1f} "
            f"| {median.broker_cpu_us_per_record:.1f} | {median.p99_ms:.0f} |",
            flush=True,
        )


def broker_results(measured: dict[str, list[ProducerRun]]) -> list[CaseResult]:
    results = []
    for name, runs in measured.items():
        median = _median_run(runs)
        figures = {
            "records_per_s": median.records_per_s,
            "cpu_us_per_event": median.cpu_us_per_record,
            "broker_cpu_us_per_event": median.broker_cpu_us_per_record,
            "p99_ms": median.p99_ms,
        }
        results.append(CaseResult(f"broker: {name}", figures, [r.records_per_s for r in runs]))
    return results
