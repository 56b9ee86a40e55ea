"""The pipeline benchmark's tables (markdown, on stdout) and its figures for the results file."""

import os
from collections.abc import Iterable

from bench.pipeline.search import Search
from bench.pipeline.step import GROWTH_TOLERANCE, Step
from bench.results import CaseResult

__all__ = ["PIPELINE", "print_cost", "print_steps", "search_results"]

PIPELINE = ("gateway", "processors", "sink", "engine", "kafka", "clickhouse")
"""What a box running Headwater runs, in the order of an event's path (the engine idles unless
workflows match: it is there because `headwater up` runs it)."""


def _pipeline(values: dict[str, float]) -> Iterable[tuple[str, float]]:
    return ((name, values[name]) for name in PIPELINE if name in values)


def total_us_per_event(step: Step) -> float:
    return sum(value for _, value in _pipeline(step.cpu_us_per_event()))


def print_steps(found: Search) -> None:
    print(
        "\n| step | events/s asked | accepted/s | wrk p50 / p99 ms | lag growth events/s "
        f"(≤ {GROWTH_TOLERANCE:.0%} of the rate) | lag at end s | drained in s "
        "| pipeline cores | CPU µs/event | other work cores | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for number, step in enumerate(found.steps, 1):
        result = step.paced.result
        latency = f"{result.p50_ms:.1f} / {result.p99_ms:.1f}" if result else "-"
        cores = sum(value for _, value in _pipeline(step.cores()))
        verdict = "; ".join(step.failures()) or "kept up"
        print(
            f"| {number} | {step.rate:,.0f} | {step.accepted_per_s:,.0f} | {latency} "
            f"| {step.growth_per_s():,.0f} | {step.lag_at_end_s():.2f} | {step.drain_s:.1f} "
            f"| {cores:.2f} | {total_us_per_event(step):,.0f} | {step.others_cores:.2f} "
            f"| {verdict} |"
        )
    high = found.fell_behind
    print(
        f"\nSustained: **{found.kept_up:,.0f} events/s**"
        + (f" (fell behind at {high:,.0f}/s)" if high else " (no step fell behind)"),
        flush=True,
    )


def above_idle_us_per_event(step: Step, idle: dict[str, float]) -> dict[str, float]:
    """Each part's CPU per event beyond what it uses with no load: what one more event costs."""
    rate = max(step.accepted_per_s, 1e-9)
    return {name: (cores - idle[name]) * 1e6 / rate for name, cores in step.cores().items()}


def print_cost(step: Step, idle: dict[str, float]) -> None:
    """Each part's cores and CPU per event at the rate kept up with (all of it, and beyond its
    idle cost), then the load's own."""
    print(
        f"\n| at {step.rate:,.0f} events/s | cores | idle cores | CPU µs/event | share "
        "| µs/event above idle |"
    )
    print("|---|---|---|---|---|---|")
    total = total_us_per_event(step)
    cores, per_event = step.cores(), step.cpu_us_per_event()
    above = above_idle_us_per_event(step, idle)
    for name, value in _pipeline(per_event):
        print(
            f"| {name} | {cores[name]:.2f} | {idle[name]:.2f} | {value:,.0f} "
            f"| {value / total:.0%} | {above[name]:,.0f} |"
        )
    all_cores, all_idle = sum(v for _, v in _pipeline(cores)), sum(v for _, v in _pipeline(idle))
    all_above = sum(v for _, v in _pipeline(above))
    print(
        f"| **pipeline** | **{all_cores:.2f}** | **{all_idle:.2f}** | **{total:,.0f}** | 100% "
        f"| **{all_above:,.0f}** |"
    )
    for name, seconds in step.load_cpu_s.items():
        print(f"| load: {name} | {seconds / step.seconds:.2f} | | | | |")
    print(
        f"| other work on the machine | {step.others_cores:.2f} | | | | |\n"
        f"\n{os.cpu_count()} cores; {step.accepted_in_load:,} events accepted in "
        f"{step.seconds:.0f} s, all {step.stored:,} stored.",
        flush=True,
    )


def search_results(found: Search, idle: dict[str, float]) -> list[CaseResult]:
    """A case per step, and the rate kept up with, with every part's CPU per event there."""
    cases = [_step_result(number, step) for number, step in enumerate(found.steps, 1)]
    best = found.best()
    if best is None:
        return cases
    figures = {
        "events_per_s": best.rate,
        "cpu_us_per_event": total_us_per_event(best),
        **{f"{name}_cpu_us_per_event": value for name, value in _pipeline(best.cpu_us_per_event())},
        "idle_cores": sum(value for _, value in _pipeline(idle)),
        "cpu_us_per_event_above_idle": sum(
            value for _, value in _pipeline(above_idle_us_per_event(best, idle))
        ),
        "others_cores": best.others_cores,
    }
    runs = [step.rate for step in found.steps]
    return [*cases, CaseResult("sustained end to end (runs: each step's rate)", figures, runs)]


def _step_result(number: int, step: Step) -> CaseResult:
    figures = {
        "events_per_s": step.accepted_per_s,
        "asked_per_s": step.rate,
        "kept_up": float(step.sustained),
        "lag_growth_per_s": step.growth_per_s(),
        "lag_at_end_s": step.lag_at_end_s(),
        "drain_s": step.drain_s,
        "cpu_us_per_event": total_us_per_event(step),
        "others_cores": step.others_cores,
    }
    return CaseResult(f"step {number}: {step.rate:,.0f} events/s", figures, [step.accepted_per_s])
