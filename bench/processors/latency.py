"""Latency the processors add: a fresh worker, caught up after a warm-up; records go out at a
fixed rate, open loop, no linger, acks=all. Added latency = each output record's Kafka timestamp
- its raw record's (both CreateTime, ms resolution: the producer's clock, which is this
machine's), matched by the `headwater-source` header.

Both timestamps are taken when a producer accepts the record (ours, then the worker's), so the
raw record's trip to the broker is in it and the output's trip is not.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.cpu import CpuShare, snapshot
from bench.environment import BenchEnvironment, progress
from bench.kafka import EndOffsets
from bench.processors.throughput import STALL_TIMEOUT_S, STARTUP_TIMEOUT_S, wait_outputs
from bench.processors.worker import log_problems, running_worker, worker_setup
from bench.processors.workload import produce_paced, workload
from schemas import topics
from tests.kafka import commit_group_at_end

__all__ = ["WARMUP_S", "Latency", "latency", "output_timestamps"]

WARMUP_S = 3.0


@dataclass(frozen=True)
class Latency:
    rate: float
    records: int
    distinct: int
    send_s: float
    added_ms: list[int]
    cpu: CpuShare
    problems: Counter[str]


async def latency(bench: BenchEnvironment, root: Path, rate: float, seconds: float) -> Latency:
    """Paced records through a caught-up worker; each output's delay after its raw record."""
    bootstrap, broker = bench.bootstrap, bench.service_pids.get("kafka")
    setup = worker_setup(bench.env, root, "latency")
    await commit_group_at_end(bootstrap, setup.app_id, topics.RAW)
    async with EndOffsets(bootstrap) as ends:
        partitions = len(await ends.of(topics.RAW))
        warm = workload(f"bench-{setup.app_id}-warm", int(rate * WARMUP_S), partitions, seed=90)
        load = workload(f"bench-{setup.app_id}", int(rate * seconds), partitions, seed=91)
        with running_worker(setup) as worker:
            base = await ends.total(topics.EVENTS)
            progress(f"latency: warm-up, {WARMUP_S:.0f} s at {rate:,.0f}/s")
            await produce_paced(bootstrap, warm.records, rate)
            await wait_outputs(ends, worker, setup, base, warm.distinct, stall_s=STARTUP_TIMEOUT_S)
            start = await ends.of(topics.EVENTS)
            progress(f"latency: {seconds:.0f} s at {rate:,.0f}/s")
            cpu = snapshot(worker.pid, broker)
            sent, send_s = await produce_paced(bootstrap, load.records, rate)
            cpu_share = CpuShare.between(cpu, snapshot(worker.pid, broker))
            stamps = await output_timestamps(bootstrap, start, load.distinct, STALL_TIMEOUT_S)
    added = [
        stamps[source] - meta.timestamp
        for meta in sent
        if (source := f"{meta.partition}:{meta.offset}".encode()) in stamps
    ]
    problems = log_problems(setup.log)
    return Latency(rate, len(load.records), load.distinct, send_s, added, cpu_share, problems)


async def output_timestamps(
    bootstrap: str, start: dict[TopicPartition, int], count: int, timeout: float
) -> dict[bytes, int]:
    """Read `count` processed records from `start` on: each one's Kafka timestamp (ms), by its
    `headwater-source` header (`"<raw partition>:<raw offset>"`)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: dict[bytes, int] = {}
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for record in (r for batch in batches.values() for r in batch):
                source = dict(record.headers).get(topics.SOURCE_HEADER)
                if source is not None:
                    found[bytes(source)] = record.timestamp
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return found
