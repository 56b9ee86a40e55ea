"""The app as a whole, running: keys picked up without a restart, health, readiness, metrics and
the OpenAPI document served, and no redirects anywhere in the ingest API."""

import pytest

from headwater.keys import create_key
from tests.gateway.conftest import RunningGateway, pageview
from tests.helpers import eventually

pytestmark = pytest.mark.integration


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


@pytest.mark.parametrize("path", ["/e/", "/api/v1/s2s/event/", "/openapi.json/"])
def test_no_path_redirects(gateway: RunningGateway, path: str) -> None:
    """A redirect built from the request points at http:// behind a TLS-terminating proxy and
    puts the token in `Location`: every path answers for itself, or 404s."""
    with gateway.client() as client:
        response = client.post(path, params={"token": gateway.usermaven_token}, json={})
    assert response.status_code not in (301, 302, 307, 308)
    assert "location" not in response.headers
