"""The broker's limit for the records the gateway and the peer write: how fast one producer gets
the same records acknowledged (acks=all, idempotent) when nothing else is in the way.

- Kafka's own `ProducerPerformance` (what `kafka-producer-perf-test.sh` runs), from the broker's
  jars plus kafka-tools (resolved with Maven into the cache folder on first use): records of the
  pageview record's size, unkeyed, as fast as it can. Its CPU includes the JVM's start and JIT.
- aiokafka, pipelined: `send` without awaiting each record's delivery, one flush per BATCH
  records, the pageview record and key itself: the gateway's client without HTTP or per-request
  work, in this process.

Both also report the broker's CPU per record (when the benchmark started the broker).
"""

import asyncio
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.cpu import cpu_seconds
from bench.environment import progress
from headwater.stack.kafka import KAFKA_VERSION, LocalKafka
from runtime.settings import HeadwaterSettings, KafkaSettings
from schemas import topics

__all__ = ["ProducerRun", "aiokafka_pipelined", "producer_performance"]

BATCH = 2_000
"""Records sent before each flush of the pipelined aiokafka producer."""
_SUMMARY = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec .*?([\d.]+) ms avg latency.*?"
    r"(\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th",
)


@dataclass(frozen=True)
class ProducerRun:
    """One producer's run: records acknowledged per second, and the CPU spent per record."""

    records_per_s: float
    cpu_us_per_record: float
    broker_cpu_us_per_record: float
    p99_ms: float

    def describe(self) -> str:
        return (
            f"{self.records_per_s:,.0f} records/s, {self.cpu_us_per_record:.1f} µs CPU/record, "
            f"broker {self.broker_cpu_us_per_record:.1f} µs/record, p99 {self.p99_ms:.0f} ms"
        )


def producer_performance(
    bootstrap: str, records: int, record_size: int, broker_pid: int | None
) -> ProducerRun:
    """Kafka's ProducerPerformance: `records` unkeyed records of `record_size` bytes, acks=all."""
    argv = [
        "java", "-Xmx512m", "-cp", _classpath(), "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topics.RAW, "--num-records", str(records), "--record-size", str(record_size),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all",
        "enable.idempotence=true",
    ]  # fmt: skip
    children_before = _children_cpu_s()
    broker_before = cpu_seconds(broker_pid) if broker_pid else 0.0
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    broker = cpu_seconds(broker_pid) - broker_before if broker_pid else 0.0
    summary = _SUMMARY.search(run.stdout)
    if run.returncode != 0 or summary is None:
        output = run.stdout + run.stderr
        raise SystemExit(f"ProducerPerformance failed ({run.returncode}):\n{output}")
    sent = int(summary.group(1))
    return ProducerRun(
        float(summary.group(2)),
        (_children_cpu_s() - children_before) * 1e6 / sent,
        broker * 1e6 / sent,
        float(summary.group(5)),
    )


def aiokafka_pipelined(
    bootstrap: str, records: int, key: bytes, value: bytes, broker_pid: int | None
) -> ProducerRun:
    """aiokafka with the gateway's guarantees (acks=all, idempotent), `records` copies of one
    record, BATCH sends between flushes."""
    broker_before = cpu_seconds(broker_pid) if broker_pid else 0.0
    cpu_before = time.process_time()
    seconds, p99_ms = asyncio.run(_pipelined(bootstrap, records, key, value))
    cpu = time.process_time() - cpu_before
    broker = cpu_seconds(broker_pid) - broker_before if broker_pid else 0.0
    return ProducerRun(records / seconds, cpu * 1e6 / records, broker * 1e6 / records, p99_ms)


async def _pipelined(bootstrap: str, records: int, key: bytes, value: bytes) -> tuple[float, float]:
    """Seconds from the first send to the last ack, and the p99 of the batches' flush times."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        flushes = []
        started = time.perf_counter()
        for first in range(0, records, BATCH):
            batch_started = time.perf_counter()
            sent = [
                await producer.send(topics.RAW, value, key=key)
                for _ in range(min(BATCH, records - first))
            ]
            await producer.flush()
            for delivery in sent:
                delivery.result()  # a failed record fails the run
            flushes.append(time.perf_counter() - batch_started)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    flushes.sort()
    return seconds, flushes[int(0.99 * (len(flushes) - 1))] * 1000


def _children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children (ProducerPerformance's JVM, once run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _classpath() -> str:
    """The broker's jars (installed if need be) and kafka-tools, which holds the tool."""
    settings = HeadwaterSettings()
    kafka = LocalKafka(settings, KafkaSettings())
    kafka.install()
    tools = settings.cache_dir.expanduser().resolve() / f"kafka-tools-{KAFKA_VERSION}"
    jar = tools / f"kafka-tools-{KAFKA_VERSION}.jar"
    if not jar.exists():
        progress(f"resolving kafka-tools {KAFKA_VERSION} from Maven Central into {tools}")
        artifact = f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}"
        resolve = subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={artifact}",
             f"-DoutputDirectory={tools}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if resolve.returncode != 0:
            raise SystemExit(f"resolving {artifact} failed:\n{resolve.stdout}{resolve.stderr}")
    return f"{jar}:{Path(kafka.libs)}/*"
