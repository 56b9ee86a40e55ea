"""The publisher's honest answers: Kafka unreachable, or the producer's buffer full, is a 503 with
Retry-After, never a 2xx and never unbounded memory."""

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.projects import Project, ProjectSource, UsermavenKey, hash_secret
from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings
from tests.conftest import free_port
from tests.helpers import eventually

pytestmark = pytest.mark.integration

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
