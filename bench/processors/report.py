"""The markdown tables of the processors benchmark (stdout; progress goes to stderr)."""

import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.cpu import CpuShare
from bench.processors.floor import Floor
from bench.processors.latency import Latency
from bench.processors.profile_summary import area_of, read_profile
from bench.processors.throughput import Drain
from bench.processors.worker import StateSize
from bench.results import percentile

__all__ = [
    "print_floor",
    "print_latency",
    "print_off_rule",
    "print_profile",
    "print_state",
    "print_throughput",
    "print_triggers",
]

MB = 1024 * 1024
MILLION = 1_000_000


def print_throughput(drains: list[Drain]) -> None:
    print(
        "\n| run | input records | distinct outputs | dead letters | startup s | s (first output "
        "→ all) | events/s | worker CPU µs/event | CPU cores: worker / broker / bench / others "
        "| worker warnings |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run, d in enumerate(drains, 1):
        check = "" if d.outputs == d.distinct else f" (expected {d.distinct:,})"
        print(
            f"| {run} | {d.records:,} | {d.outputs:,}{check} | {d.dead_letters} "
            f"| {d.startup_s:.1f} | {d.seconds:.2f} | {d.events_per_s:,.0f} "
            f"| {d.cpu_us_per_event:.0f} | {_cores(d.cpu)} | {d.problems.total()} |"
        )
    rates = ", ".join(f"{d.events_per_s:,.0f}" for d in drains)
    median = statistics.median(d.events_per_s for d in drains)
    cpu_us = statistics.median(d.cpu_us_per_event for d in drains)
    print(f"| **median** | | | | | | **{median:,.0f}** | **{cpu_us:.0f}** | | |")
    print(
        f"\nevents/s = input records (duplicates included) / seconds; runs: {rates}. CPU cores:"
        " averages over the timed span; bench = the benchmark's own process (producer done,"
        " offsets polled); others = every other process on the machine."
    )
    _print_problems(sum((d.problems for d in drains), Counter()))


def _print_problems(problems: Counter[str]) -> None:
    for message, count in problems.most_common(5):
        print(f"- worker log, {count} times: {message[:160]}", flush=True)


def print_state(drains: list[Drain]) -> None:
    print(
        "\n| run | identities (seen) | seen RocksDB MB at catch-up (sst + wal) | seen RocksDB MB "
        "after stop (sst + wal) | links RocksDB MB (visitors) | seen changelog MB "
        "| RSS MB at first output | RSS MB at end |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run, d in enumerate(drains, 1):
        log = _mb(d.changelog) if d.changelog is not None else "n/a (external broker)"
        print(
            f"| {run} | {d.distinct:,} | {_split(d.seen_running)} | {_split(d.seen_stopped)} "
            f"| {_mb(d.links_stopped.total)} ({d.linked_visitors:,}) | {log} "
            f"| {_mb(d.rss_first)} | {_mb(d.rss_done)} |"
        )

    def per_million(value: Callable[[Drain], float]) -> str:
        return _mb(statistics.median(value(d) / d.distinct * MILLION for d in drains))

    identities = drains[0].distinct
    label = "measured" if identities >= MILLION else f"extrapolated linearly from {identities:,}"
    changelog = (
        per_million(lambda d: d.changelog or 0) if drains[0].changelog is not None else "n/a"
    )
    print(
        f"| **per million identities** ({label}; median) | | "
        f"{per_million(lambda d: d.seen_running.total)} "
        f"| {per_million(lambda d: d.seen_stopped.total)} | | {changelog} | "
        f"RSS growth: **{per_million(lambda d: d.rss_done - d.rss_first)}** | |"
    )
    print(
        "\nRocksDB keeps each table partition's newest writes in memtables (up to two of"
        " HEADWATER_PROCESSORS_ROCKSDB_WRITE_BUFFER_MB) and a block cache"
        " (HEADWATER_PROCESSORS_ROCKSDB_BLOCK_CACHE_MB) in the worker's memory, so RSS grows with"
        " the seen-set only until those fill; past that, RSS is bounded by them and the"
        " per-million RSS figure no longer applies.",
        flush=True,
    )


_FLOOR_STEPS = {
    "consume": "faust: fetch, stream, ack (nothing else)",
    "send": "+ send each record on (faust's producer)",
    "table": "+ write one key per record to a RocksDB table with a changelog",
}


def print_floor(floors: list[Floor], drains: list[Drain]) -> None:
    """Each bare-agent mode's medians, what each step adds, and what is left for Headwater's
    own work in the worker measured above."""
    print("\n| bare faust agent | runs: records/s | records/s | CPU µs/record | step adds µs |")
    print("|---|---|---|---|---|")
    previous = 0.0
    for mode, step in _FLOOR_STEPS.items():
        runs = [floor for floor in floors if floor.mode == mode]
        rates = ", ".join(f"{floor.per_s:,.0f}" for floor in runs)
        cpu_us = statistics.median(floor.cpu_us for floor in runs)
        median = statistics.median(floor.per_s for floor in runs)
        print(f"| {step} | {rates} | {median:,.0f} | {cpu_us:.0f} | {cpu_us - previous:.0f} |")
        previous = cpu_us
    worker_us = statistics.median(d.cpu_us_per_event for d in drains)
    print(
        f"| the processors worker above (dedupe, identity, split, outputs) | | "
        f"{statistics.median(d.events_per_s for d in drains):,.0f} | {worker_us:.0f} "
        f"| {worker_us - previous:.0f} |"
    )
    print(
        "\nBare agents: the same records, timed inside the process from its first record to its"
        " last (CPU: both of its threads). The last row's step is Headwater's own code per event"
        " (decode, dedupe lookup, identity, split, encode) plus the links-table writes.",
        flush=True,
    )


def print_triggers(
    drains: list[Drain], loaded: list[Drain], step: dict[int, float], floor: float
) -> None:
    """Worker CPU per event without and with workflows in the project, and the step alone."""
    print(
        "\n| workflows in the project (none matching) | worker CPU µs/event, runs | median "
        "| events/s (median) | trigger step alone, ns/event |"
    )
    print("|---|---|---|---|---|")
    for runs in (drains, loaded):
        workflows, cpu = runs[0].workflows, [d.cpu_us_per_event for d in runs]
        rate = statistics.median(d.events_per_s for d in runs)
        listed = ", ".join(f"{us:.1f}" for us in cpu)
        print(
            f"| {workflows} | {listed} | {statistics.median(cpu):.1f} | {rate:,.0f} "
            f"| {step[workflows]:.0f} |"
        )
    print(
        "\nRuns with and without workflows alternate, each on a fresh worker. The step alone: "
        "`WorkflowTriggers.commands_for` over 100 of the workload's events in turn (hot in the "
        "cache, as the event the chain just made is), in this process, CPU "
        f"time per event, best of 5 passes, the loop included (the same loop calling a function "
        f"that does nothing: {floor:.0f} ns).",
        flush=True,
    )


def print_off_rule(drains: list[Drain], moved: dict[float, list[Drain]]) -> None:
    """Records/s and worker CPU per input record by share of records off the rule."""
    print("\n| off the rule | records/s (runs) | median | worker CPU µs/record (runs) | median |")
    print("|---|---|---|---|---|")
    for share, runs in {0.0: drains, **moved}.items():
        rates = ", ".join(f"{d.events_per_s:,.0f}" for d in runs)
        cpus = ", ".join(f"{d.cpu_us_per_event:.0f}" for d in runs)
        print(
            f"| {share:.0%} | {rates} | {statistics.median(d.events_per_s for d in runs):,.0f} "
            f"| {cpus} | {statistics.median(d.cpu_us_per_event for d in runs):.0f} |"
        )
    print(
        "\nrecords/s = input records / seconds from the worker's first output (or first record"
        " moved) until every distinct event is on headwater.events; a record off the rule is"
        " produced again to its rule partition and read again before it is processed."
    )


def print_latency(result: Latency) -> None:
    added = result.added_ms
    print(
        "\n| latency load | records (distinct) | achieved records/s | outputs matched "
        "| p50 ms | p99 ms | max ms | CPU cores: worker / broker / bench / others |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {result.rate:,.0f}/s for {result.records / result.rate:.0f} s "
        f"| {result.records:,} ({result.distinct:,}) | {result.records / result.send_s:,.0f} "
        f"| {len(added):,} | {percentile(added, 50):.0f} | {percentile(added, 99):.0f} "
        f"| {max(added, default=0)} | {_cores(result.cpu)} |"
    )
    _print_problems(result.problems)
    print(
        "\nAdded latency = output record's Kafka timestamp - raw record's (ms; both stamped when"
        " a producer accepted the record, so the output's own trip to the broker is not in it).",
        flush=True,
    )


def print_profile(path: Path, profiled: Drain) -> None:
    profile = read_profile(path)
    print(
        f"\nProfile: py-spy, 100 Hz, one extra throughput run ({profiled.events_per_s:,.0f} "
        f"events/s under the profiler), {profile.samples:,} CPU-busy samples; raw stacks: {path}"
    )
    threads = ", ".join(f"{name} {profile.share(n):.0%}" for name, n in profile.by_thread.items())
    print(f"Samples by thread: {threads} (faust reads Kafka in a thread of its own).")
    print("\n| area (innermost known frame) | share of samples |\n|---|---|")
    for area, count in profile.by_area.most_common():
        print(f"| {area} | {profile.share(count):.0%} |")
    print(f"| *faust/aiokafka internals, all* | *{profile.internals():.0%}* |")
    print("\n| function (own + child time) | area | inclusive | own |\n|---|---|---|---|")
    for name in profile.top_functions():
        inclusive, own = profile.share(profile.inclusive[name]), profile.share(profile.own[name])
        print(f"| `{name}` | {_short(area_of([name]))} | {inclusive:.0%} | {own:.0%} |")
    print("\n| function (own time) | area | own |\n|---|---|---|")
    for name, count in profile.own.most_common(8):
        print(f"| `{name}` | {_short(area_of([name]))} | {profile.share(count):.0%} |", flush=True)


def _cores(share: CpuShare) -> str:
    return f"{share.worker:.2f} / {share.broker:.2f} / {share.bench:.2f} / {share.others:.2f}"


def _short(area: str) -> str:
    """An area without its parenthesised detail, for the function tables."""
    return area.split(" (")[0]


def _mb(count: float) -> str:
    return f"{count / MB:,.1f}"


def _split(size: StateSize) -> str:
    return f"{_mb(size.total)} ({_mb(size.sst)} + {_mb(size.wal)})"
