"""The markdown tables of the engine benchmark (stdout; progress goes to stderr)."""

from pathlib import Path

from bench.engine.latency import Latency
from bench.engine.pending import Pending
from bench.engine.pipeline import DELAY_S
from bench.processors.profile_summary import read_profile
from bench.results import percentile

__all__ = ["print_latency", "print_pending", "print_profile"]

MB = 1024 * 1024
MILLION = 1_000_000
TARGET_P99_S = 1.0


def _mb(count: float) -> str:
    return f"{count / MB:,.0f}"


def print_pending(p: Pending) -> None:
    label = "measured" if p.commands >= MILLION else f"extrapolated linearly from {p.commands:,}"
    per_million = MILLION / p.commands
    print(
        f"\n| pending executions (Start -> Delay 1 day -> Webhook) | {p.commands:,} |\n|---|---|\n"
        f"| startup s (worker start → first started) | {p.startup_s:.1f} |\n"
        f"| commands/s (first started → all started) | **{p.per_s:,.0f}** |\n"
        f"| engine CPU µs/command | **{p.cpu_us_per_command:,.0f}** |\n"
        f"| CPU cores: engine / broker / bench / others | {p.cpu.worker:.2f} / "
        f"{p.cpu.broker:.2f} / {p.cpu.bench:.2f} / {p.cpu.others:.2f} |\n"
        f"| RSS MB: peak (VmHWM) / when all started | {_mb(p.peak)} / {_mb(p.final.rss)} |\n"
        f"| RocksDB MB (<data_dir>/engine, after stop) | {_mb(p.rocksdb)} |\n"
        f"| changelog MB (uncompacted segments) | "
        f"{'n/a (external broker)' if p.changelogs is None else _mb(p.changelogs)} |\n"
        f"| per million ({label}): RocksDB MB / changelog MB | {_mb(p.rocksdb * per_million)}"
        f" / {'n/a' if p.changelogs is None else _mb(p.changelogs * per_million)} |\n"
        f"| restart (SIGTERM, start again): s until a new command starts | **{p.ready_s:.1f}** |\n"
        f"| RSS MB after the restart, all still pending ({p.timers_after_restart:,.0f} timers"
        f" reported) | {_mb(p.after_restart.rss)} |"
    )
    last = len(p.memory_at) - 1
    steps = [p.memory_at[last * k // 4] for k in (1, 2, 3, 4)]
    growth = ", ".join(f"{started:,.0f}: {_mb(m.rss)}" for started, m in steps)
    print(f"\nRecords the engine wrote per command: {_per(p.records, p.commands)}.")
    print(
        f"\nRSS MB as executions started: {growth}. RocksDB keeps each table partition's newest"
        " writes in memtables (HEADWATER_ENGINE_ROCKSDB_WRITE_BUFFER_MB, two at most) and a block"
        " cache (HEADWATER_ENGINE_ROCKSDB_BLOCK_CACHE_MB) in the worker's memory: the timers"
        " themselves are on disk.",
        flush=True,
    )


def _per(records: dict[str, int], count: int) -> str:
    """Records per command or event, by topic, the busiest first."""
    ordered = sorted(records.items(), key=lambda item: -item[1])
    by_topic = ", ".join(f"{_short(name)} {n / count:.1f}" for name, n in ordered if n)
    return f"**{sum(records.values()) / count:.1f}** ({by_topic})"


def _short(topic: str) -> str:
    """A changelog's name without the worker's app id: `<app_id>-timers-changelog` -> `timers`."""
    return topic if topic.startswith("headwater.") else topic.split("-")[-2] + " changelog"


def print_latency(measured: Latency) -> None:
    print(
        f"\n| through gateway, processors, engine, receiver ({measured.events:,} events at "
        f"{measured.achieved_per_s:,.0f}/s) | p50 ms | p99 ms | max ms | target p99 |"
        "\n|---|---|---|---|---|"
    )
    rows = (
        ("event sent → webhook arrived (Start → Webhook)", measured.latencies_s),
        (
            f"lateness: arrived - (sent + {DELAY_S} s) (Start → Delay {DELAY_S} s → Webhook)",
            measured.lateness_s,
        ),
    )
    for label, values in rows:
        p99 = percentile(values, 99)
        verdict = "met" if p99 < TARGET_P99_S else "**missed**"
        print(
            f"| {label} | {percentile(values, 50) * 1000:,.0f} | {p99 * 1000:,.0f} "
            f"| {max(values) * 1000:,.0f} | < 1,000: {verdict} |"
        )
    stages = (
        ("of which: sent → command on Kafka (gateway, processors)", measured.to_command_s),
        ("of which: command → webhook arrived (engine, receiver)", measured.command_to_webhook_s),
    )
    for label, values in stages:
        print(
            f"| {label} | {percentile(values, 50) * 1000:,.0f} "
            f"| {percentile(values, 99) * 1000:,.0f} | {max(values) * 1000:,.0f} | |"
        )
    p50, p99 = measured.engine_lateness
    print(
        f"| engine's histogram: due → timer fired (bucket bounds) | ≤ {p50 * 1000:,.0f} "
        f"| ≤ {p99 * 1000:,.0f} | | |"
    )
    parts = " | ".join(
        f"{part} {measured.cpu_us_per_event(part):,.0f}" for part in sorted(measured.cpu_s)
    )
    print(
        f"\nWebhooks arrived for {measured.drained_per_s:,.0f} events/s on average (first send"
        f" to last arrival, {measured.drain_s:,.0f} s). Records the engine wrote per event:"
        f" {_per(measured.records, measured.events)}."
    )
    print(
        f"\nCPU µs per event (each event: one command, two executions, two webhooks): {parts}."
        f" All of them together: {sum(measured.cpu_s.values()) / measured.span_s:.2f} cores on"
        f" average over the {measured.span_s:.0f} s measured (of 2 cores).",
        flush=True,
    )


def print_profile(path: Path, during: str) -> None:
    """The engine's busiest functions `during` a case, from its py-spy recording."""
    profile = read_profile(path)
    print(
        f"\nEngine profile, {during} (py-spy, 100 Hz, {profile.samples:,} CPU-busy samples;"
        f" raw stacks: {path})"
    )
    print("\n| function (own + child time) | inclusive | own |\n|---|---|---|")
    for name in profile.top_functions(12):
        inclusive, own = profile.share(profile.inclusive[name]), profile.share(profile.own[name])
        print(f"| `{name}` | {inclusive:.0%} | {own:.0%} |")
    print("\n| function (own time) | own |\n|---|---|")
    for name, count in profile.own.most_common(10):
        print(f"| `{name}` | {profile.share(count):.0%} |", flush=True)
