"""faust's own cost of the work every event needs, without any of Headwater's: the same records
through bare faust agents (bench/processors/bare_agent.py) that only consume them, then also
send each on, then also write one table key per record. What the worker costs beyond the last
of them is Headwater's own code.
"""

import asyncio
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.environment import REPO_ROOT, BenchEnvironment, progress
from bench.kafka import EndOffsets
from bench.processors.bare_agent import MODES
from bench.processors.throughput import STALL_TIMEOUT_S, STARTUP_TIMEOUT_S
from bench.processors.workload import produce_all, workload
from schemas import topics

__all__ = ["Floor", "faust_floor"]


@dataclass(frozen=True)
class Floor:
    """One bare agent's run, timed inside its process from its first record to its last."""

    mode: str
    per_s: float
    """Records per second."""
    cpu_us: float
    """CPU µs per record, both of its threads."""


async def faust_floor(bench: BenchEnvironment, root: Path, events: int, runs: int) -> list[Floor]:
    """The workload on a topic of its own, through a bare agent in each mode, `runs` times each."""
    tag = uuid.uuid4().hex[:8]
    source, output = f"bench-floor-{tag}", f"bench-floor-{tag}-out"
    async with EndOffsets(bench.bootstrap) as ends:
        partitions = len(await ends.of(topics.RAW))
    admin = AIOKafkaAdminClient(bootstrap_servers=bench.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in (source, output)])
    finally:
        await admin.close()
    load = workload(f"bench-{source}", events, partitions, seed=1)
    progress(f"faust floor: producing {events:,} records to {source}")
    await produce_all(bench.bootstrap, load.records, source)
    floors = []
    for mode in MODES:
        for run in range(1, runs + 1):
            progress(f"faust floor: {mode}, run {run}/{runs}")
            data_dir = root / f"floor-{tag}-{mode}-{run}"
            data_dir.mkdir(parents=True)
            command = [sys.executable, "-m", "bench.processors.bare_agent", mode, source,
                       str(partitions), str(events), output, str(data_dir)]  # fmt: skip
            floors.append(await asyncio.to_thread(_run_floor, mode, command, bench.env))
    return floors


def _run_floor(mode: str, command: list[str], env: dict[str, str]) -> Floor:
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=STARTUP_TIMEOUT_S + STALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode(errors="replace")
        raise SystemExit(f"faust floor {mode} did not finish:\n{stderr[-3000:]}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")
        raise SystemExit(f"faust floor {mode} exited with {done.returncode}:\n{stderr[-3000:]}")
    timed = orjson.loads(done.stdout.splitlines()[-1])
    records = timed["records"]
    return Floor(mode, records / timed["seconds"], timed["cpu_seconds"] / records * 1e6)
