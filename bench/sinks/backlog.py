"""A backlog of processed events on headwater.events, and consumer groups that skip what is there.

The events are what the processors emit for a Vemetric pageview of an identified user (one of
USERS users, keyed and partitioned as the processors key them), each with its own event id. They
are produced in whole batches, by pasting the id into pre-encoded JSON, so that a Python producer
fills the topic quickly; nothing is measured while it does.
"""

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka.partitioner import DefaultPartitioner

from bench.kafka import Record, batch_producer, send_in_batches
from bench.sinks.open_loop import USER_AGENT
from schemas import topics
from schemas.event import Event, UserDataUpdate, encode
from sinks.consumer import SINK_TOPICS
from tests.kafka import commit_group_at_end

__all__ = ["USERS", "fresh_group", "produce"]

USERS = 4096
_ID_SLOT = "@" * 32


def fresh_group(bootstrap: str, prefix: str) -> str:
    """A new consumer group whose committed offsets are the current ends of the sink's topics,
    so a sink in it reads only what is produced from now on."""
    group = f"{prefix}-{uuid.uuid4().hex[:8]}"
    asyncio.run(commit_group_at_end(bootstrap, group, *SINK_TOPICS))
    return group


@dataclass(frozen=True)
class Shape:
    """One user's event as JSON split around its event id, and where its key sends it."""

    key: bytes
    partition: int
    head: bytes
    tail: bytes


def shapes(partitions: list[int]) -> list[Shape]:
    """What the processors emit for a Vemetric pageview of an identified user."""
    now = datetime.now(UTC)
    partitioner = DefaultPartitioner()
    out = []
    for user in range(USERS):
        event = Event(
            event_id=_ID_SLOT,
            project_id="dev",
            source_format="vemetric",
            name="$pageview",
            event_time=now,
            received_at=now,
            user_id=f"user_{user}",
            url="https://example.com/blog/article",
            context={"user_agent": USER_AGENT, "allow_cookies": "false"},
            user_data=UserDataUpdate(set={"displayName": f"user_{user}@example.com"}),
        )
        head, tail = encode(event).split(_ID_SLOT.encode())
        key = event.kafka_key()
        out.append(Shape(key, partitioner(key, partitions, partitions), head, tail))
    return out


async def produce(bootstrap: str, rows: int, run: int) -> None:
    """`rows` events with unique ids (run number, then row number: 32 hex digits)."""
    async with batch_producer(bootstrap) as producer:
        partitions = sorted(await producer.partitions_for(topics.EVENTS))
        await send_in_batches(producer, topics.EVENTS, _rows(shapes(partitions), rows, run))


def _rows(events: list[Shape], rows: int, run: int) -> Iterator[Record]:
    for row in range(rows):
        shape = events[row % USERS]
        value = b"%s%02x%030x%s" % (shape.head, run, row, shape.tail)
        yield Record(shape.key, value, shape.partition)
