"""The app as a whole, running: keys picked up without a restart, health, readiness, metrics
(every request counted by the next scrape, across workers too) and the OpenAPI document served,
and no redirects anywhere in the ingest API."""

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import METRICS_FLUSH_S
from headwater.keys import create_key
from tests.gateway.conftest import RunningGateway, pageview, start_gateway
from tests.helpers import eventually, stop

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


def _counted(url: str) -> tuple[float, float]:
    """Vemetric `/e` requests answered 200, and Vemetric events accepted, as a scrape says."""
    wanted = {
        ("headwater_gateway_requests_total", ("vemetric", "/e", "200")): 0.0,
        ("headwater_gateway_events_accepted_total", ("vemetric",)): 0.0,
    }
    for family in text_string_to_metric_families(httpx2.get(f"{url}/metrics").text):
        for sample in family.samples:
            if (key := (sample.name, tuple(sample.labels.values()))) in wanted:
                wanted[key] += sample.value
    requests, events = wanted.values()
    return requests, events


def test_each_request_is_counted_by_the_next_scrape(gateway: RunningGateway) -> None:
    before = _counted(gateway.url)
    with gateway.client() as client:
        for n in range(3):
            assert client.post("/e", json=pageview(gateway.vemetric_token, f"u{n}")).is_success
    assert _counted(gateway.url) == (before[0] + 3, before[1] + 3)


def test_the_requests_of_every_worker_are_counted(
    gateway: RunningGateway, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Two workers: a scrape reads every worker's multiprocess file, which each worker's counts
    reach within a second."""
    shutil.copy(gateway.projects_file, tmp_path / "projects.json")
    process, url = start_gateway(
        kafka_bootstrap, tmp_path, "gateway", HEADWATER_GATEWAY_WORKERS="2"
    )
    token = gateway.vemetric_token
    try:
        with ThreadPoolExecutor(8) as pool:  # a connection each, 8 at once: both workers take some
            answers = pool.map(
                lambda n: httpx2.post(f"{url}/e", json=pageview(token, f"w{n}")), range(40)
            )
            assert all(answer.is_success for answer in answers)
        time.sleep(METRICS_FLUSH_S + 0.5)  # each worker's counts reach its file
        assert _counted(url) == (40, 40)  # in one scrape, whichever worker answers it
    finally:
        stop(process)


@pytest.mark.parametrize("path", ["/e/", "/api/v1/s2s/event/", "/openapi.json/"])
def test_no_path_redirects(gateway: RunningGateway, path: str) -> None:
    """A redirect built from the request points at http:// behind a TLS-terminating proxy and
    puts the token in `Location`: every path answers for itself, or 404s."""
    with gateway.client() as client:
        response = client.post(path, params={"token": gateway.usermaven_token}, json={})
    assert response.status_code not in (301, 302, 307, 308)
    assert "location" not in response.headers
