"""The rules shared by all formats, against the running gateway and the real broker: idempotency,
hostile input, rate limits, keys, health and metrics, and Kafka being unavailable."""

import gzip
import urllib.error
import urllib.request
import uuid
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.projects import Project, ProjectSource, UsermavenKey, hash_secret
from gateway.settings import GatewaySettings
from headwater.keys import create_key
from runtime.settings import KafkaSettings
from schemas import topics
from schemas.event import decode
from tests.conftest import free_port
from tests.gateway.conftest import RunningGateway
from tests.helpers import eventually, read_topic_until

pytestmark = pytest.mark.integration


def pageview(token: str, user: str) -> dict[str, Any]:
    return {
        "projectToken": token,
        "name": "$pageview",
        "url": "https://a.example/",
        "identifier": user,
    }


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


def test_gzip_bodies_are_inflated(gateway: RunningGateway, kafka_bootstrap: str) -> None:
    user = f"user_{uuid.uuid4().hex}"
    body = gzip.compress(orjson.dumps(pageview(gateway.vemetric_token, user)))
    with gateway.client() as client:
        response = client.post(
            "/e",
            content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    assert response.status_code == 200
    read_topic_until(kafka_bootstrap, topics.RAW, lambda r: user.encode() in r.value)


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, b"x" * (300 * 1024), 413),
        ({"Content-Encoding": "gzip"}, gzip.compress(b" " * (50 * 1024 * 1024)), 413),
        ({"Content-Encoding": "gzip"}, b"not gzip at all", 400),
        ({"Content-Encoding": "br"}, b"{}", 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 415),
        ({"Content-Type": "application/json; charset=latin-1"}, b"{}", 415),
        ({}, b"{not json", 400),
        ({}, b'{"projectToken": "\xff\xfe"}', 400),
        ({}, b"[" * 5000 + b"]" * 5000, 400),
    ],
)
def test_hostile_bodies_get_a_clear_4xx_in_every_format(
    gateway: RunningGateway, headers: dict[str, str], content: bytes, status: int
) -> None:
    with gateway.client() as client:
        vemetric = client.post("/e", content=content, headers=headers)
        usermaven = client.post(
            "/api/v1/s2s/event",
            params={"token": gateway.usermaven_token},
            content=content,
            headers=headers,
        )
        embeddables = client.post(
            "/projects/acme/events",
            content=content,
            headers={"X-Api-Key": gateway.embeddables_key} | headers,
        )
    assert (vemetric.status_code, usermaven.status_code, embeddables.status_code) == (status,) * 3
    assert vemetric.headers["content-type"].startswith("text/plain")
    assert usermaven.json()["status"] == "error"
    assert embeddables.json()["errors"]


def test_rate_limit_answers_429_with_retry_after(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        answers = [client.post("/e", json=pageview(gateway.limited_token, "u")) for _ in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 200 and 429 in statuses
    limited = answers[statuses.index(429)]
    assert (limited.text, int(limited.headers["retry-after"]) >= 1) == ("Too Many Requests", True)


def test_new_keys_work_without_a_restart(gateway: RunningGateway) -> None:
    token = create_key(gateway.projects_file, "newcomer", "vemetric")
    with gateway.client() as client:
        eventually(
            lambda: client.post("/e", json=pageview(token, "u")).status_code == 200,
            timeout=10,
            what="new key picked up",
        )


def test_health_readiness_metrics_and_openapi(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        client.post("/e", json=pageview(gateway.vemetric_token, "u"))
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").text == "ready"
        metrics = client.get("/metrics").text
        openapi = client.get("/openapi.json").json()
    for series in (
        'headwater_gateway_requests_total{format="vemetric",path="/e",status="200"}',
        'headwater_gateway_events_accepted_total{format="vemetric"}',
        'headwater_gateway_request_bytes_total{format="vemetric"}',
        "headwater_gateway_produce_latency_seconds_bucket",
    ):
        assert series in metrics
    assert openapi["openapi"] == "3.1.0"
    assert "/projects/{projectId}/events" in openapi["paths"]


PROJECTS = ProjectSource.of(
    [
        Project(
            id="gw",
            vemetric_tokens=["proj_t"],
            usermaven_keys=[UsermavenKey(api_key="k", server_token_hash=hash_secret("s"))],
        )
    ]
)


def test_kafka_unreachable_is_503_with_retry_after() -> None:
    settings = GatewaySettings(produce_timeout_ms=500, retry_after_s=7)
    app = create_app(settings, KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"), PROJECTS)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        response = client.post("/e", json={"projectToken": "proj_t", "name": "signup"})
    assert (response.status_code, response.headers["retry-after"]) == (503, "7")


def test_a_full_producer_buffer_is_503_not_unbounded_memory(kafka_bootstrap: str) -> None:
    settings = GatewaySettings(max_pending_events=1, retry_after_s=3)
    app = create_app(settings, KafkaSettings(bootstrap=kafka_bootstrap), PROJECTS)
    event = {"event_type": "signup", "user": {"id": "u1"}}
    with TestClient(app) as client:
        eventually(lambda: client.get("/readyz").status_code == 200, what="ready")
        one = client.post("/api/v1/s2s/event?token=k.s", json=event)
        two = client.post("/api/v1/s2s/event?token=k.s", json=[event, event])
    assert one.status_code == 200
    assert (two.status_code, two.headers["retry-after"]) == (503, "3")
    assert "buffer is full" in two.json()["message"]


@pytest.mark.parametrize("path", ["/e", "/api/v1/s2s/event", "/projects/acme/events"])
def test_too_large_bodies_sent_without_expect_continue_get_their_413(
    gateway: RunningGateway, path: str
) -> None:
    """urllib (like requests) sends the whole body at once, without `Expect: 100-continue`: the
    gateway reads it to the end before answering, so the client sees the 413, not a reset."""
    body = b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    request = urllib.request.Request(
        f"{gateway.url}{path}", data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 413
