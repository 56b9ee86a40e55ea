"""OffsetGaps against the real broker: from the group's committed offset on, each offset of a
partition must arrive in turn; the ones before a record are read from Kafka, and a record that
comes again in the same consumer generation was already handled.

Other tests produce to the shared raw topic too, so the records read are checked by their offsets
(contiguous from the committed one), with this test's own records among them.
"""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from runtime.gaps import OffsetGaps
from runtime.settings import KafkaSettings
from schemas import topics
from tests.helpers import start_group_at_end

pytestmark = pytest.mark.integration

PARTITION = 0


async def produce_three(bootstrap: str) -> list[int]:
    """Three records on the raw topic's partition PARTITION; their offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topics.RAW, b"gap", key=b"gaps", partition=PARTITION)
            for _ in range(3)
        ]
    finally:
        await producer.stop()
    return [metadata.offset for metadata in sent]


def test_records_before_the_expected_offset_are_read_and_repeats_are_skipped(
    kafka_bootstrap: str,
) -> None:
    group = f"test-gaps-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka_bootstrap, group, topics.RAW)

    async def scenario() -> None:
        first, second, third = await produce_three(kafka_bootstrap)
        async with OffsetGaps(KafkaSettings(bootstrap=kafka_bootstrap), group) as gaps:
            read = await gaps.missed(topics.RAW, PARTITION, third, generation=1)
            assert read is not None
            offsets = [record.offset for record in read]
            assert offsets == list(range(offsets[0], third)) and offsets[0] <= first
            assert {first, second} <= set(offsets)
            assert (
                await gaps.missed(topics.RAW, PARTITION, third, generation=1) is None
            )  # handled already
            assert (
                await gaps.missed(topics.RAW, PARTITION, third + 1, generation=1) == []
            )  # next in turn
            again = await gaps.missed(
                topics.RAW, PARTITION, second, generation=2
            )  # a new generation
            assert again is not None
            assert [record.offset for record in again] == [o for o in offsets if o < second]
            await gaps.stop()  # stopping twice is harmless

    asyncio.run(scenario())
