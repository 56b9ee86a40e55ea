"""The shared request path against the running gateway and the real broker: Idempotency-Key,
a project's allowed origins, and its rate limit."""

import uuid
from typing import Any

import pytest

from schemas import topics
from schemas.event import decode
from tests.gateway.conftest import SHOP_ORIGIN, RunningGateway, pageview
from tests.helpers import read_topic_until

pytestmark = pytest.mark.integration

PAGE = "https://pages.example"


def test_idempotency_key_repeats_make_the_same_event(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    user, key = f"user_{uuid.uuid4().hex}", f"key-{uuid.uuid4().hex}"
    body = pageview(gateway.vemetric_token, user)
    with gateway.client() as client:
        answers = [client.post("/e", json=body, headers={"Idempotency-Key": key}) for _ in range(2)]
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * 2
    seen: list[str] = []

    def both_read(record: Any) -> bool:
        if user.encode() in record.value:
            seen.append(decode(record.value).event_id)
        return len(seen) == 2

    read_topic_until(kafka_bootstrap, topics.RAW, both_read)
    assert seen[0] == seen[1]
    event = decode(
        read_topic_until(kafka_bootstrap, topics.RAW, lambda r: user.encode() in r.value).value
    )
    assert event.idempotency_key == key


def test_idempotency_key_must_be_sane(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        response = client.post(
            "/e", json=pageview(gateway.vemetric_token, "u"), headers={"Idempotency-Key": "x" * 300}
        )
    assert response.status_code == 400
    assert response.headers["x-headwater-error"].startswith("Idempotency-Key")


def test_a_project_with_allowed_origins_refuses_other_pages(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    marker = uuid.uuid4().hex
    body = {"name": "$pageview", "url": f"{SHOP_ORIGIN}/{marker}"}
    headers = {"Token": gateway.shop_token}
    with gateway.client() as client:
        foreign = client.post("/e", json=body, headers=headers | {"Origin": PAGE})
        own = client.post("/e", json=body, headers=headers | {"Origin": SHOP_ORIGIN})
        server = client.post("/e", json=body, headers=headers)  # no Origin: not from a page
        metrics = client.get("/metrics").text
    assert (foreign.status_code, foreign.text) == (403, "Invalid!")
    assert foreign.headers["x-headwater-error"].startswith(f"Origin: {PAGE} is not")
    assert foreign.headers["access-control-allow-origin"] == PAGE  # so the page can read why
    assert (own.status_code, server.status_code) == (200, 200)
    assert 'headwater_gateway_origin_refused_requests_total{format="vemetric"} 1.0' in metrics
    read_topic_until(kafka_bootstrap, topics.RAW, lambda r: marker.encode() in (r.value or b""))


def test_rate_limit_answers_429_with_retry_after(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        answers = [client.post("/e", json=pageview(gateway.limited_token, "u")) for _ in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 200 and 429 in statuses
    limited = answers[statuses.index(429)]
    assert (limited.text, int(limited.headers["retry-after"]) >= 1) == ("Too Many Requests", True)
