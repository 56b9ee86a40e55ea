"""The gateway's replica of the entries topic against the real broker: an entry produced to
Kafka by another service is found, one deleted through the API is gone, and one off its key's
rule partition counts only once the processors' copy is there."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from runtime.partitioning import rule_partition
from schemas import topics
from schemas.entry import Entry, entry_key
from tests.factories import NOW, fixture
from tests.gateway.conftest import RunningGateway, embeddables_headers, entry_body, unique
from tests.helpers import eventually, produce
from tests.kafka import topic_partitions

pytestmark = pytest.mark.integration


def test_entries_produced_to_kafka_directly_and_deleted(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    embeddable, email = f"flow_{unique()}", f"{unique()}@test.com"
    entry = Entry(
        project_id="acme",
        embeddable_id=embeddable,
        identifier_key="email",
        identifier_value=email,
        entry_id=unique(),
        updated_at=NOW,
    )
    produce(kafka_bootstrap, topics.ENTRIES, entry.kafka_key(), entry.encode())
    headers = embeddables_headers(gateway.embeddables_key)
    body = fixture("embeddables/custom_event") | entry_body(embeddable, email)
    with gateway.client() as client:
        post = lambda: client.post("/projects/acme/events", json=body, headers=headers)  # noqa: E731
        eventually(lambda: post().status_code == 200, timeout=10, what="entry replicated")
        deleted = client.request(
            "DELETE", "/projects/acme/entries", json=entry_body(embeddable, email), headers=headers
        )
        assert deleted.status_code == 200
        assert post().status_code == 404
    assert entry.kafka_key() == entry_key("acme", embeddable, "email", email)


def produce_to(bootstrap: str, topic: str, key: bytes, value: bytes, partition: int) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
        finally:
            await producer.stop()

    asyncio.run(send())


def test_an_entry_counts_only_on_its_rule_partition(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    """Produced elsewhere (another client's partitioner), it waits for the processors' copy."""
    embeddable, email, placed = f"flow_{unique()}", f"{unique()}@test.com", f"{unique()}@test.com"
    key = entry_key("acme", embeddable, "email", email)
    partitions = len(asyncio.run(topic_partitions(kafka_bootstrap, topics.ENTRIES)))
    home = rule_partition(key, partitions)
    value = Entry(
        project_id="acme", embeddable_id=embeddable, identifier_key="email",
        identifier_value=email, entry_id=unique(), updated_at=NOW,
    ).encode()  # fmt: skip
    produce_to(kafka_bootstrap, topics.ENTRIES, key, value, (home + 1) % partitions)
    produce(kafka_bootstrap, topics.ENTRIES, entry_key("acme", embeddable, "email", placed),
            value.replace(email.encode(), placed.encode()))  # fmt: skip
    headers = embeddables_headers(gateway.embeddables_key)
    event = fixture("embeddables/custom_event")
    with gateway.client() as client:

        def post(address: str) -> int:
            body = event | entry_body(embeddable, address)
            return client.post("/projects/acme/events", json=body, headers=headers).status_code

        eventually(lambda: post(placed) == 200, timeout=10, what="the entry on its partition")
        assert post(email) == 404
        produce_to(kafka_bootstrap, topics.ENTRIES, key, value, home)  # the processors' copy
        eventually(lambda: post(email) == 200, timeout=10, what="the copy replicated")
