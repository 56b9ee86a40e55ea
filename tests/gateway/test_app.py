"""The gateway against the real broker: what it acknowledges is in the raw topic."""

import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings
from headwater.projects import Project, ProjectRegistry
from headwater.settings import KafkaSettings
from schemas import topics
from schemas.event import decode
from tests.conftest import free_port
from tests.helpers import eventually, read_topic_until

pytestmark = pytest.mark.integration

TOKEN = "proj_gateway_test"
PROJECTS = ProjectRegistry([Project(id="gw", vemetric_tokens=[TOKEN])])


def client_for(bootstrap: str, produce_timeout_ms: int = 5000) -> TestClient:
    app = create_app(
        GatewaySettings(produce_timeout_ms=produce_timeout_ms, retry_after_s=7),
        KafkaSettings(bootstrap=bootstrap),
        PROJECTS,
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str) -> Iterator[TestClient]:
    with client_for(kafka_bootstrap) as client:
        eventually(lambda: client.get("/readyz").status_code == 200, what="gateway ready")
        yield client


def test_accepted_pageview_is_in_the_raw_topic(gateway: TestClient, kafka_bootstrap: str) -> None:
    user = f"user_{uuid.uuid4().hex}"
    body = {
        "projectToken": TOKEN,
        "name": "$pageview",
        "url": "https://example.com/blog/article",
        "identifier": user,
        "displayName": "john@example.com",
    }
    response = gateway.post("/e", json=body, headers={"Allow-Cookies": "false"})
    assert (response.status_code, response.content) == (200, b"")

    record = read_topic_until(kafka_bootstrap, topics.RAW, lambda r: user.encode() in r.value)
    event = decode(record.value)
    assert record.key == f"gw:{user}".encode()
    assert (event.project_id, event.name, event.url, event.user_id) == (
        "gw",
        "$pageview",
        "https://example.com/blog/article",
        user,
    )


def test_invalid_input_is_400_invalid(gateway: TestClient) -> None:
    response = gateway.post("/e", json={"projectToken": TOKEN})
    assert (response.status_code, response.text) == (400, "Invalid!")
    assert response.headers["x-headwater-error"].startswith("name:")


def test_kafka_unreachable_is_503_with_retry_after() -> None:
    with client_for(f"127.0.0.1:{free_port()}", produce_timeout_ms=500) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        response = client.post("/e", json={"projectToken": TOKEN, "name": "signup"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"


def test_metrics_are_prometheus_text(gateway: TestClient) -> None:
    response = gateway.get("/metrics")
    assert response.status_code == 200
    assert "headwater_events_sent_total" in response.text
