"""CPU accounting from /proc: the time a process (and its children) used, who used the machine's
cores during a measurement, and how much of them work outside the benchmark took.

On a 2-core machine shared with other work (a test suite, say), "everything else" says whether a
run's numbers describe Headwater or the neighbours.
"""

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["CpuShare", "CpuSnapshot", "NeighbourMeter", "cpu_seconds", "snapshot"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_times() -> tuple[dict[int, int], dict[int, float]]:
    """Every living process's parent, and its CPU seconds (user + system) so far."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return parents, times


def _tree(pid: int, parents: dict[int, int]) -> list[int]:
    """`pid` and its living descendants."""
    tree, found = [pid], []
    while tree:
        current = tree.pop()
        found.append(current)
        tree += [child for child, parent in parents.items() if parent == current]
    return found


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """CPU time (user + system) used so far by a process and, unless told otherwise, its living
    descendants (e.g. a server's worker processes); 0.0 for a process that is gone."""
    parents, times = _process_times()
    members = _tree(pid, parents) if descendants else [pid]
    return sum(times.get(member, 0.0) for member in members)


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


class NeighbourMeter(threading.Thread):
    """The cores that processes outside this benchmark's process tree used while it ran, on
    average: the noise of the measurement. Samples every `interval` seconds, so that the time of
    a child that ends (a worker stopped between runs) is counted up to its last sample."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(name="neighbour-meter", daemon=True)
        self._interval = interval
        self._stopping = threading.Event()
        self._ours = self._machine = self._seconds = 0.0

    def __enter__(self) -> "NeighbourMeter":
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        self.join()

    @property
    def others_cores(self) -> float:
        """Average cores busy with other work over the measured span."""
        return max(0.0, self._machine - self._ours) / self._seconds if self._seconds else 0.0

    @property
    def machine_cores(self) -> float:
        """Average cores busy with anything, this benchmark included."""
        return self._machine / self._seconds if self._seconds else 0.0

    def run(self) -> None:
        at, machine, ours = time.monotonic(), _machine_busy_s(), self._our_times()
        while not self._stopping.wait(self._interval):
            now, busy, current = time.monotonic(), _machine_busy_s(), self._our_times()
            self._seconds += now - at
            self._machine += busy - machine
            self._ours += sum(t - ours.get(pid, 0.0) for pid, t in current.items())
            at, machine, ours = now, busy, current

    @staticmethod
    def _our_times() -> dict[int, float]:
        parents, times = _process_times()
        return {pid: times.get(pid, 0.0) for pid in _tree(os.getpid(), parents)}
