"""What the benchmark reads back after the load: the receiver's deliveries, the commands' Kafka
timestamps, and how many records the engine wrote to each of its topics."""

import asyncio
import time
import urllib.request
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.kafka import EndOffsets
from engine.app import changelog_topics
from schemas import topics

__all__ = [
    "SHARED_TOPICS",
    "command_times",
    "delivered",
    "deliveries",
    "engine_topics",
    "record_counts",
]

READ_TIMEOUT_S = 120.0


def deliveries(receiver_url: str) -> list[dict[str, Any]]:
    """Every delivery the receiver has had: its body and first arrival (epoch seconds)."""
    with urllib.request.urlopen(f"{receiver_url}/deliveries", timeout=60) as response:
        seen = orjson.loads(response.read())
    return [
        {**d["body"], "at": datetime.fromisoformat(d["first_at"]).timestamp()}
        for d in seen.values()
    ]


async def delivered(
    receiver_url: str, prefix: str, count: int, stall_s: float, poll_s: float
) -> list[dict[str, Any]] | None:
    """The deliveries of events labelled `<prefix>-…` once `count` have arrived; None once none
    has arrived for `stall_s` (an overloaded engine may take long, but keeps delivering)."""
    seen, changed = -1, time.monotonic()
    while True:
        ours = [d for d in deliveries(receiver_url) if str(d.get("n", "")).startswith(f"{prefix}-")]
        if len(ours) >= count:
            return ours
        if len(ours) != seen:
            seen, changed = len(ours), time.monotonic()
        elif time.monotonic() - changed > stall_s:
            return None
        await asyncio.sleep(poll_s)


async def command_times(bootstrap: str, start: dict[TopicPartition, int]) -> dict[str, float]:
    """Each command recorded since `start` (up to the topic's end now): its event's `n`, and its
    Kafka timestamp (s; CreateTime: when the processors' producer took it)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: dict[str, float] = {}
    try:
        consumer.assign(list(start))
        ends = await consumer.end_offsets(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise SystemExit(f"could not read {topics.WORKFLOW_COMMANDS} to its end")
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for record in (r for batch in batches.values() for r in batch):
                command = orjson.loads(record.value or b"{}")
                event = command.get("execution_data", {}).get("event", {})
                found[str(event.get("properties", {}).get("n"))] = record.timestamp / 1000
    finally:
        await consumer.stop()
    return found


SHARED_TOPICS = (topics.WORKFLOW_HISTORY, topics.WORKFLOW_SIGNALS, topics.WORKFLOW_STATS)
"""What every engine worker writes to besides dead letters and its own tables' changelogs."""


def engine_topics(app_id: str) -> list[str]:
    """The topics an engine worker writes to besides dead letters."""
    return [*SHARED_TOPICS, *changelog_topics(app_id)]


async def record_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    """Each topic's records so far (the sum of its end offsets)."""
    async with EndOffsets(bootstrap) as ends:
        return {name: await ends.total(name) for name in names}
