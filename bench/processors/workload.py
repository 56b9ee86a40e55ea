"""The processors' input for bench/processors: `Event` records for headwater.raw in a realistic
mix, and two ways to produce them (all at once, as fast as a Python producer can; or paced).

The mix of one workload (its own project, so no dedupe state of another run can match it):
- sources: 45% Vemetric (deduped by event id; a tenth carry an Idempotency-Key), 35% Usermaven
  (by the source's own event id; a quarter are imports with their own timestamp, deduped by a
  payload fingerprint), 20% direct producers (payload fingerprint);
- people: LINK_SHARE of the records are identify calls (anonymous id and user id: a link to
  write), 55% carry only an anonymous id (a link to look up), the rest only a user id; about four
  records per visitor;
- duplicates: DUPLICATE_SHARE of the records re-send an earlier record byte for byte (same key,
  same event id), up to a few hundred records later, as a client retry would.
Each record is on its key's partition under Headwater's rule (murmur2), as the gateway produces,
except an `off_rule` share, produced to the next partition instead, as a direct producer with
another partitioner would: the processors move those to their rule partition first.
Embeddables events are left out: they need an entry on headwater.entries to resolve against.
"""

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata

from bench.kafka import Record, batch_producer, send_in_batches
from schemas import topics
from schemas.event import Event, UserDataUpdate, encode

__all__ = [
    "DUPLICATE_SHARE",
    "LINK_SHARE",
    "Workload",
    "produce_all",
    "produce_paced",
    "workload",
]

DUPLICATE_SHARE = 0.10
LINK_SHARE = 0.05
ANONYMOUS_SHARE = 0.55
EVENTS_PER_VISITOR = 4
RETRY_DISTANCE = 500
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


@dataclass(frozen=True)
class Workload:
    project_id: str
    records: list[Record]
    distinct: int
    """Records that are not duplicates: the outputs the processors must produce."""
    linked_visitors: int
    """Anonymous ids that identify calls link to a user: the entries of the `links` table."""


def workload(
    project_id: str, size: int, partitions: int, seed: int = 1, off_rule: float = 0.0
) -> Workload:
    """`size` records of one project, duplicates included, keyed and partitioned as the gateway's
    producer would (murmur2 of `Event.kafka_key()`), but for an `off_rule` share of them."""
    rng, placement = random.Random(seed), random.Random(seed + 1)
    duplicates = int(size * DUPLICATE_SHARE)
    distinct = size - duplicates
    visitors = max(1, distinct // EVENTS_PER_VISITOR)
    now = datetime.now(UTC)
    partitioner, ids = DefaultPartitioner(), list(range(partitions))
    originals, linked = [], set()
    for seq in range(distinct):
        event = _event(rng, project_id, seq, rng.randrange(visitors), now)
        if event.anonymous_id and event.user_id:
            linked.add(event.anonymous_id)
        key = event.kafka_key()
        partition = partitioner(key, ids, ids)
        if placement.random() < off_rule:
            partition = (partition + 1) % partitions
        originals.append(Record(key, encode(event), partition))
    records = _with_retries(rng, originals, duplicates)
    return Workload(project_id, records, distinct, len(linked))


def _with_retries(rng: random.Random, originals: list[Record], count: int) -> list[Record]:
    """The originals in order, with `count` of them sent again a little later."""
    later: dict[int, list[Record]] = {}
    for index in rng.sample(range(len(originals)), count):
        at = min(index + rng.randint(1, RETRY_DISTANCE), len(originals) - 1)
        later.setdefault(at, []).append(originals[index])
    records = []
    for index, record in enumerate(originals):
        records.append(record)
        records.extend(later.get(index, ()))
    return records


def _event(rng: random.Random, project: str, seq: int, visitor: int, now: datetime) -> Event:
    roll = rng.random()
    people: dict[str, Any] = {"anonymous_id": f"anon_{visitor:012x}"}
    if roll < LINK_SHARE:
        people["user_id"] = f"user_{visitor}"
    elif roll >= LINK_SHARE + ANONYMOUS_SHARE:
        people = {"user_id": f"user_{visitor}"}
    source = rng.random()
    if source < 0.45:
        fields = _vemetric(rng, seq, people)
    elif source < 0.80:
        fields = _usermaven(rng, seq, people, now)
    else:
        fields = _direct(rng, seq, people, now)
    fields.setdefault("event_time", now)
    return Event(event_id=f"{seq:032x}", project_id=project, received_at=now, **people, **fields)


def _vemetric(rng: random.Random, seq: int, people: dict[str, Any]) -> dict[str, Any]:
    identify = "user_id" in people and "anonymous_id" in people
    return {
        "source_format": "vemetric",
        "name": "$identify" if identify else rng.choice(["$pageview", "$pageview", "click"]),
        "idempotency_key": f"req-{seq}" if rng.random() < 0.1 else None,
        "url": f"https://example.com/blog/article-{seq % 300}",
        "context": {"user_agent": USER_AGENT, "allow_cookies": "false"},
        "properties": {"button": "signup"} if rng.random() < 0.3 else {},
        "user_data": UserDataUpdate(set={"displayName": f"visitor {seq % 997}"})
        if "user_id" in people
        else UserDataUpdate(),
    }


def _usermaven(
    rng: random.Random, seq: int, people: dict[str, Any], now: datetime
) -> dict[str, Any]:
    imported = rng.random() < 0.25
    return {
        "source_format": "usermaven",
        "name": "user_identify" if len(people) == 2 else rng.choice(["pageview", "plan_upgraded"]),
        "event_time": now - timedelta(days=1, milliseconds=seq) if imported else now,
        "is_historical": imported,
        "source_event_id": None if imported else f"um-{seq}",
        "url": "https://app.example.com/settings/billing",
        "context": {
            "user_agent": USER_AGENT,
            "page_title": "Billing",
            "user_language": "en-US",
            "screen_resolution": "1920x1080",
        },
        "properties": {"amount": 100 + seq % 50, "currency": "USD", "plan": {"name": "premium"}},
        "user_data": UserDataUpdate(set={"email": f"u{seq % 991}@example.com", "plan": "premium"}),
    }


def _direct(rng: random.Random, seq: int, people: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "source_format": "direct",
        "name": "purchase",
        "event_time": now - timedelta(milliseconds=seq),
        "properties": {
            "sku": f"sku-{seq % 1000}",
            "price": round(rng.uniform(1, 500), 2),
            "quantity": rng.randint(1, 5),
            "coupon": None,
            "gift": rng.random() < 0.1,
            "tags": ["sale", "summer"],
            "shipping": {"country": "DE", "express": False},
        },
    }


async def produce_all(bootstrap: str, records: list[Record], topic: str = topics.RAW) -> float:
    """Produce every record to `topic` in whole batches, in order within each partition; the
    seconds it took."""
    async with batch_producer(bootstrap) as producer:
        started = time.monotonic()
        await send_in_batches(producer, topic, records)
        return time.monotonic() - started


async def produce_paced(
    bootstrap: str, records: list[Record], rate: float
) -> tuple[list[RecordMetadata], float]:
    """Produce the records at `rate` per second (open loop, no batching delay), each acked by
    the broker; their metadata (partition, offset, Kafka timestamp) and the seconds it took."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        started = time.monotonic()
        sent: list[asyncio.Future[RecordMetadata]] = []
        while len(sent) < len(records):
            due = min(len(records), int((time.monotonic() - started) * rate) + 1)
            for record in records[len(sent) : due]:
                sent.append(
                    await producer.send(
                        topics.RAW, record.value, key=record.key, partition=record.partition
                    )
                )
            await asyncio.sleep(0.001)
        metadata = list(await asyncio.gather(*sent))
        return metadata, time.monotonic() - started
    finally:
        await producer.stop()
