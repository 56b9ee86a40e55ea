"""The gateway's replica of the entries topic against the real broker: an entry produced to
Kafka by another service is found, and one deleted through the API is gone."""

import pytest

from schemas import topics
from schemas.entry import Entry, entry_key
from tests.factories import NOW, fixture
from tests.gateway.conftest import RunningGateway, embeddables_headers, entry_body, unique
from tests.helpers import eventually, produce

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
