"""What each server writes for one request, read back from headwater.raw before the load: the
check that the peer does the gateway's job (every record a valid `Event` of schemas/event.py,
keyed by `Event.kafka_key()`, on the partition Headwater's rule gives that key), and the records
the broker's own limit is then measured with (bench/peer/broker.py).
"""

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from bench.gateway.wrk import post_once
from bench.kafka import EndOffsets
from runtime.partitioning import rule_partition
from schemas import topics
from schemas.event import decode

__all__ = ["Written", "written_by"]


@dataclass(frozen=True)
class Written:
    """The records one request made, each checked against the contract."""

    keys: list[bytes]
    values: list[bytes]

    @property
    def value_bytes(self) -> int:
        """The mean size of a record's value."""
        return round(sum(map(len, self.values)) / len(self.values))

    def describe(self) -> str:
        return f"{len(self.values)} record(s) of {self.value_bytes} bytes, e.g. {self.values[0]!r}"


def written_by(name: str, bootstrap: str, url: str, body: bytes, expected: int) -> Written:
    """POST `body` to `url` once, read back the records it wrote to headwater.raw, and check
    them: `expected` records, each a valid Event, keyed and placed by Headwater's rule."""
    written = asyncio.run(_post_and_read(bootstrap, url, body))
    if len(written.values) != expected:
        count = len(written.values)
        raise SystemExit(f"{name} wrote {count} records for one request, not {expected}")
    return written


async def _post_and_read(bootstrap: str, url: str, body: bytes) -> Written:
    async with EndOffsets(bootstrap) as ends:
        before = await ends.of(topics.RAW)
        await asyncio.to_thread(post_once, url, body)
        after = await ends.of(topics.RAW)
    return await _read(bootstrap, before, after)


async def _read(
    bootstrap: str, before: dict[TopicPartition, int], after: dict[TopicPartition, int]
) -> Written:
    """The records between two sets of end offsets, checked one by one."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        new = [tp for tp in after if after[tp] > before[tp]]
        consumer.assign(new)
        for tp in new:
            consumer.seek(tp, before[tp])
        keys: list[bytes] = []
        values: list[bytes] = []
        wanted = sum(after[tp] - before[tp] for tp in new)
        async with asyncio.timeout(10):
            while len(values) < wanted:
                for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                    for record in batch:
                        if record.offset < after[tp]:
                            _check(record.key, record.value, tp.partition, len(after))
                            keys.append(record.key or b"")
                            values.append(record.value or b"")
        return Written(keys, values)
    finally:
        await consumer.stop()


def _check(key: bytes | None, value: bytes | None, partition: int, partitions: int) -> None:
    try:
        event = decode(value or b"")
    except ValidationError as exc:
        raise SystemExit(f"not a valid Event: {value!r}\n{exc}") from exc
    if key != event.kafka_key():
        raise SystemExit(f"keyed {key!r}, not by Event.kafka_key() {event.kafka_key()!r}")
    if partition != rule_partition(key, partitions):
        raise SystemExit(f"{key!r} on partition {partition}, not on the rule's")
