"""One `headwater process` worker for bench/processors, started as users start it but with
its own app id and data folder, so it begins with empty state and its own consumer group; and
what can be read about it from outside: memory, RocksDB files, its log, a py-spy recording.
"""

import subprocess
import uuid
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.environment import running_component

__all__ = [
    "StateSize",
    "WorkerSetup",
    "changelog_bytes",
    "log_problems",
    "rss_bytes",
    "running_worker",
    "state_size",
    "worker_setup",
]

STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WorkerSetup:
    app_id: str
    data_dir: Path
    env: dict[str, str]
    log: Path


def worker_setup(base_env: dict[str, str], root: Path, label: str) -> WorkerSetup:
    """A fresh app id (consumer group, changelog topics) and data folder (RocksDB) for one run;
    /metrics off, so that a worker already running on this machine keeps its port."""
    app_id = f"bench-processors-{label}-{uuid.uuid4().hex[:8]}"
    data_dir = root / app_id
    data_dir.mkdir(parents=True)
    env = base_env | {
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_PROCESSORS_APP_ID": app_id,
        "HEADWATER_PROCESSORS_METRICS_PORT": "0",
    }
    return WorkerSetup(app_id, data_dir, env, data_dir / "worker.log")


def running_worker(setup: WorkerSetup) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`headwater process` until the block ends: SIGTERM (faust's clean shutdown), SIGKILL if
    it has not exited after STOP_TIMEOUT_S. Its output goes to `setup.log`."""
    return running_component("process", setup.env, setup.log, STOP_TIMEOUT_S)


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS), 0 for a process that is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True)
class StateSize:
    """Bytes of one faust table's RocksDB folders (all partitions), by kind of file."""

    sst: int
    wal: int
    other: int

    @property
    def total(self) -> int:
        return self.sst + self.wal + self.other


def state_size(data_dir: Path, table: str) -> StateSize:
    """The table's RocksDB files under `<data_dir>/processors/v1/tables/<table>-<partition>.db`:
    sorted tables (.sst), write-ahead log (.log: flushed to .sst later), the rest (manifest,
    options, ...)."""
    sizes = {"sst": 0, "wal": 0, "other": 0}
    for folder in (data_dir / "processors").glob(f"**/tables/{table}-*.db"):
        for path in folder.rglob("*"):
            if path.is_file():
                kind = {".sst": "sst", ".log": "wal"}.get(path.suffix, "other")
                sizes[kind] += path.stat().st_size
    return StateSize(**sizes)


def changelog_bytes(kafka_home: Path, app_id: str, table: str) -> int:
    """Bytes of the table's changelog segments on the local broker (.log files only: the index
    files are preallocated)."""
    pattern = f"{app_id}-{table}-changelog-*/*.log"
    return sum(path.stat().st_size for path in (kafka_home / "data").glob(pattern))


def log_problems(path: Path) -> Counter[str]:
    """The worker's warnings and errors (JSON lines, runtime/logs.py), counted by message;
    lines of other output (a traceback faust printed, say) counted together."""
    problems: Counter[str] = Counter()
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return problems
    for line in filter(None, lines):
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            problems["(output that is not a JSON log line, e.g. a traceback)"] += 1
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            problems[f"{entry['level']}: {entry.get('msg', '')}"] += 1
    return problems
