"""Embeddables against the running gateway: the seed's examples need an entry, written through
the API first; identifier values as clients send them; keys and errors."""

import pytest

from tests.factories import fixture
from tests.gateway.conftest import (
    RunningGateway,
    embeddables_headers,
    entry_body,
    read_event,
    unique,
)

pytestmark = pytest.mark.integration


def test_embeddables_seed_examples_need_an_entry(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    embeddable, email = f"flow_{unique()}", f"{unique()}@test.com"
    headers = embeddables_headers(gateway.embeddables_key)
    purchase = fixture("embeddables/purchase") | entry_body(embeddable, email)
    with gateway.client() as client:
        missing = client.post("/projects/acme/events", json=purchase, headers=headers)
        put = client.put(
            "/projects/acme/entries", json=entry_body(embeddable, email), headers=headers
        )
        found = client.post("/projects/acme/events", json=purchase, headers=headers)
        custom = fixture("embeddables/custom_event") | entry_body(embeddable, email)
        custom_ok = client.post("/projects/acme/events", json=custom, headers=headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "ENTRY_NOT_FOUND"
    assert missing.json()["errors"][0]["field"] == "identifiers"
    assert put.status_code == 200 and put.json()["identifier_value"] == email
    assert found.status_code == 200 and custom_ok.status_code == 200
    event = read_event(kafka_bootstrap, found.json()["event_id"])
    assert (event.identifier_key, event.identifier_value, event.embeddable_id) == (
        "email",
        email,
        embeddable,
    )
    assert event.metrics == {"order_value": 99.99, "revenue": 89.99}
    assert event.dimensions == {
        "plan": "premium",
        "bundle": "annual",
        "purchase_type": "subscription",
    }
    assert event.event_time.isoformat() == "2022-01-01T00:00:00+00:00"


def test_embeddables_double_escaped_identifier_value(gateway: RunningGateway) -> None:
    embeddable, email = f"flow_{unique()}", f"{unique()}@test.com"
    headers = embeddables_headers(gateway.embeddables_key)
    body = fixture("embeddables/custom_event") | {
        "embeddable_id": embeddable,
        "identifiers": [{"key": "email", "value": f'\\"{email}\\"'}],
    }
    with gateway.client() as client:
        client.put("/projects/acme/entries", json=entry_body(embeddable, email), headers=headers)
        assert client.post("/projects/acme/events", json=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("key", "project", "status"),
    [(None, "acme", 401), ("rk_unknown", "acme", 401), ("OTHER", "acme", 403)],
)
def test_embeddables_keys(
    gateway: RunningGateway, key: str | None, project: str, status: int
) -> None:
    api_key = gateway.other_embeddables_key if key == "OTHER" else key
    headers = {"X-Api-Key": api_key} if api_key else {}
    with gateway.client() as client:
        response = client.post(
            f"/projects/{project}/events", json=fixture("embeddables/custom_event"), headers=headers
        )
    assert response.status_code == status
    assert response.json()["errors"][0]["field"] == "X-Api-Key"


def test_embeddables_errors_name_the_field(gateway: RunningGateway) -> None:
    body = fixture("embeddables/custom_event") | {"custom_event_name": "MyEvent"}
    with gateway.client() as client:
        response = client.post(
            "/projects/acme/events", json=body, headers=embeddables_headers(gateway.embeddables_key)
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "custom_event_name"
