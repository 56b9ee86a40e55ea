"""Who used the machine's CPU during a measurement: the worker, the broker, this script, and
everything else. On a 2-core machine shared with other work (a test suite, say), "everything
else" says whether a run's numbers describe the worker or the neighbours.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from common import cpu_seconds

__all__ = ["CpuShare", "CpuSnapshot", "snapshot"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait, since boot."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    machine: float
    worker: float
    broker: float
    bench: float


@dataclass(frozen=True)
class CpuShare:
    """Cores used on average (1.0 = one core busy) between two snapshots."""

    worker: float
    broker: float
    bench: float
    others: float

    @classmethod
    def between(cls, start: CpuSnapshot, end: CpuSnapshot) -> "CpuShare":
        seconds = max(end.at - start.at, 1e-9)
        worker = (end.worker - start.worker) / seconds
        broker = (end.broker - start.broker) / seconds
        bench = (end.bench - start.bench) / seconds
        machine = (end.machine - start.machine) / seconds
        return cls(worker, broker, bench, max(0.0, machine - worker - broker - bench))


def snapshot(worker_pid: int, broker_pid: int | None) -> CpuSnapshot:
    """CPU seconds used so far; the broker's is 0 when it is external (not ours to measure)."""
    return CpuSnapshot(
        time.monotonic(),
        _machine_busy_s(),
        cpu_seconds(worker_pid),
        cpu_seconds(broker_pid) if broker_pid is not None else 0.0,
        cpu_seconds(os.getpid(), descendants=False),
    )
