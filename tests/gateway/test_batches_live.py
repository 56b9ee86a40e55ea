"""Records appended to the producer's batches without a future each (gateway/batches.py), on the
real broker: concurrent requests of one record and of many, and records too large to share a
batch, each answered only once Kafka has every record, each record there once, on the partition
`publish` returned (Headwater's rule)."""

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gateway.metrics import GatewayMetrics
from gateway.publisher import RecordPublisher
from gateway.records import OutgoingRecord
from gateway.settings import GatewaySettings
from runtime.partitioning import rule_partition
from runtime.settings import KafkaSettings
from tests.kafka import read_to_end

pytestmark = pytest.mark.integration

PARTITIONS = 3
LARGE = 100 * 1024  # four of them do not fit one batch (256 KB): they wait for room in `send`


def requests(topic: str) -> list[list[OutgoingRecord]]:
    """60 requests of one record, 5 of 40, and one of 4 large records."""

    def record(name: str, size: int = 0) -> OutgoingRecord:
        return OutgoingRecord(topic, name.encode(), name.encode() + b"." * size)

    singles = [[record(f"single-{i}")] for i in range(60)]
    bulks = [[record(f"bulk-{b}-{i}") for i in range(40)] for b in range(5)]
    return [*singles, *bulks, [record(f"large-{i}", LARGE) for i in range(4)]]


async def publish_all(bootstrap: str, topic: str) -> list[list[int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    kafka = KafkaSettings(bootstrap=bootstrap)
    async with RecordPublisher(kafka, GatewaySettings(), GatewayMetrics()) as publisher:
        while not publisher.ready:
            await asyncio.sleep(0.05)
        return list(await asyncio.gather(*map(publisher.publish, requests(topic))))


def test_every_record_of_concurrent_requests_is_in_kafka_once_where_publish_said(
    kafka_bootstrap: str,
) -> None:
    topic = f"test.batches.{uuid.uuid4().hex}"
    answers = asyncio.run(publish_all(kafka_bootstrap, topic))
    sent = [r for request in requests(topic) for r in request]
    said = [partition for answer in answers for partition in answer]
    assert said == [rule_partition(r.key, PARTITIONS) for r in sent]
    stored = asyncio.run(read_to_end(kafka_bootstrap, topic))
    assert sorted((r.key, r.value, r.partition) for r in stored) == sorted(
        (r.key, r.value, p) for r, p in zip(sent, said, strict=True)
    )
