"""One `headwater engine` worker for bench/engine, started as users start it, with its own app id
(consumer group, changelog topics), data folder and /metrics port; and what can be read about it
from outside: its Prometheus series, its memory, its RocksDB and changelog files, its log.
"""

import subprocess
import time
import urllib.request
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.environment import free_port, running_component
from engine.app import changelog_topics
from headwater.stack.process import log_tail

__all__ = [
    "STARTED",
    "EngineSetup",
    "Memory",
    "Scrape",
    "bucket_quantile",
    "changelog_bytes",
    "directory_bytes",
    "engine_setup",
    "memory",
    "running_engine",
    "scrape",
    "wait_scrape",
]

STARTED = "headwater_workflow_executions_started_total"
LATENESS = "headwater_workflow_timer_lateness_seconds"
PENDING = "headwater_workflow_timers_pending"
STOP_TIMEOUT_S = 120.0
Buckets = list[tuple[float, float]]
"""A cumulative Prometheus histogram: (upper bound, count), bounds ascending."""
SIGNING_KEY = "bench-engine-signing-key"
"""Given to the engine and the receiver alike, so the receiver verifies what the engine signs."""


@dataclass(frozen=True)
class EngineSetup:
    app_id: str
    data_dir: Path
    env: dict[str, str]
    log: Path
    metrics_port: int

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def failed(self, what: str) -> SystemExit:
        """Fail the benchmark with the end of the worker's log."""
        return SystemExit(
            f"{what}\n--- the engine's log ({self.log}) ---\n{log_tail(self.log, 40)}"
        )


def engine_setup(base_env: dict[str, str], root: Path, label: str) -> EngineSetup:
    """A fresh app id and data folder (RocksDB under `<data_dir>/engine`) for one worker; webhooks
    may reach this machine (the receiver)."""
    app_id = f"bench-engine-{label}-{uuid.uuid4().hex[:8]}"
    data_dir = root / app_id
    data_dir.mkdir(parents=True)
    port = free_port()
    env = base_env | {
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_ENGINE_APP_ID": app_id,
        "HEADWATER_ENGINE_METRICS_PORT": str(port),
        "HEADWATER_ENGINE_SIGNING_KEY": SIGNING_KEY,
        "HEADWATER_ENGINE_WEBHOOK_ALLOW": "127.0.0.1",
    }
    return EngineSetup(app_id, data_dir, env, data_dir / "engine.log", port)


def running_engine(setup: EngineSetup) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`headwater engine` until the block ends: SIGTERM (faust's clean shutdown, its offsets and
    RocksDB flushed), SIGKILL if it has not exited after STOP_TIMEOUT_S."""
    return running_component("engine", setup.env, setup.log, STOP_TIMEOUT_S)


@dataclass(frozen=True)
class Scrape:
    """The engine's series that the benchmark reads, at one moment."""

    started: float
    pending: float
    lateness: Buckets
    """The lateness histogram's cumulative buckets: (upper bound s, count)."""


def scrape(setup: EngineSetup) -> Scrape | None:
    """The worker's /metrics now; None while it does not answer (still starting)."""
    try:
        with urllib.request.urlopen(setup.metrics_url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    started = pending = 0.0
    lateness = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == STARTED:
                started = sample.value
            elif sample.name == PENDING:
                pending = sample.value
            elif sample.name == f"{LATENESS}_bucket":
                lateness.append((float(sample.labels["le"]), sample.value))
    return Scrape(started, pending, sorted(lateness))


def bucket_quantile(start: Buckets, end: Buckets, q: float) -> float:
    """The `q` quantile (0-1) of what a cumulative histogram counted between two scrapes, as the
    upper bound of the bucket it falls in (inf past the last bound); NaN if nothing was counted."""
    before = dict(start)
    counts = [(bound, count - before.get(bound, 0.0)) for bound, count in end]
    total = counts[-1][1] if counts else 0.0
    if not total:
        return float("nan")
    return next(bound for bound, count in counts if count >= q * total)


@dataclass(frozen=True)
class Memory:
    rss: int
    """Resident set size now (VmRSS), bytes."""
    peak: int
    """The highest it has been (VmHWM), bytes."""


def memory(pid: int) -> Memory:
    """The process's memory now; zeros for a process that is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return Memory(0, 0)
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kib(name: str) -> int:
        return int(fields.get(name, "0 kB").split()[0]) * 1024

    return Memory(kib("VmRSS"), kib("VmHWM"))


def directory_bytes(path: Path) -> int:
    """Bytes of the files under `path` (what `du --apparent-size` counts)."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def changelog_bytes(kafka_home: Path, app_id: str) -> int:
    """Bytes of the worker's changelog segments on the local broker (.log files only: the index
    files are preallocated), before the broker compacts them."""
    data = kafka_home / "data"
    return sum(
        segment.stat().st_size
        for topic in changelog_topics(app_id)
        for segment in data.glob(f"{topic}-*/*.log")
    )


def wait_scrape(setup: EngineSetup, process: subprocess.Popen[bytes], timeout: float) -> Scrape:
    """The first scrape the worker answers."""
    deadline = time.monotonic() + timeout
    while (found := scrape(setup)) is None:
        if process.poll() is not None:
            raise setup.failed(f"the engine exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise setup.failed(f"no /metrics after {timeout:.0f} s")
        time.sleep(0.05)
    return found
