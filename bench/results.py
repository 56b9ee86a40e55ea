"""The results file (`docs/benchmarks.json`): what one `python -m bench` run measured, machine
readable, so the docs quote it instead of hand-copied numbers.

Each benchmark returns `CaseResult`s: one per case, with the case's median figures and the
headline figure of every run (its spread). Figure names carry their unit: `_per_s` rates, `_ms`
and `_s` durations, `cpu_us_per_event` the measured process's CPU per event (or row, or record),
`_mb` sizes, `_cores` average cores busy. The run adds when and where it ran: date, git commit,
cores, load average, and how many cores other work on the machine used meanwhile (the noise).
"""

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.environment import REPO_ROOT

__all__ = ["BenchmarkRun", "CaseResult", "Results", "percentile", "read_results", "write_results"]


@dataclass(frozen=True)
class CaseResult:
    """One case of a benchmark: median figures, and the runs behind the first of them."""

    case: str
    figures: dict[str, float]
    """Medians over the runs, by name (the first is the case's headline figure)."""
    runs: list[float] = field(default_factory=list)
    """The headline figure of each run, in order: how far the runs spread."""


@dataclass(frozen=True)
class BenchmarkRun:
    """One benchmark of the run: its cases, and the conditions it ran in."""

    name: str
    command: str
    """How to run it alone (a make target)."""
    seconds: float
    others_cores: float
    """Cores that processes outside the benchmark used on average while it ran."""
    cases: list[CaseResult]
    error: str | None = None
    """Why the benchmark failed, when it did (its cases are then empty)."""


@dataclass(frozen=True)
class Results:
    date: str
    commit: str
    quick: bool
    """A `--quick` run: brief runs that check the wiring; its figures are not measurements."""
    machine: dict[str, Any]
    benchmarks: list[BenchmarkRun]

    @classmethod
    def now(cls, quick: bool, load_before: float, benchmarks: list[BenchmarkRun]) -> "Results":
        """The run just done, on this machine, at the checkout's commit."""
        machine = {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        }
        date = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(date, _commit(), quick, machine, benchmarks)


def _commit() -> str:
    """The checkout's commit, `+` marking uncommitted changes."""
    git = ["git", "-C", str(REPO_ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def write_results(results: Results, path: Path) -> None:
    """The results as indented JSON, numbers rounded to three decimals."""
    path.write_bytes(orjson.dumps(_rounded(asdict(results)), option=orjson.OPT_INDENT_2) + b"\n")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def read_results(path: Path) -> Results:
    data = orjson.loads(path.read_bytes())
    benchmarks = [
        BenchmarkRun(**(run | {"cases": [CaseResult(**case) for case in run["cases"]]}))
        for run in data.pop("benchmarks")
    ]
    return Results(**data, benchmarks=benchmarks)


def percentile(values: Sequence[float], pct: int) -> float:
    """The `pct`th percentile (inclusive method); the only value of a list of one; NaN of none."""
    if len(values) < 2:
        return float(values[0]) if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
