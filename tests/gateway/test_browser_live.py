"""What browsers need from the endpoints web pages call, against the running gateway: CORS
preflights and headers (errors included), and prefetches."""

import uuid

import pytest

from schemas import topics
from tests.gateway.conftest import RunningGateway, topic_size

pytestmark = pytest.mark.integration

PAGE = "https://pages.example"
TRACKER_HEADERS = "content-type,token,allow-cookies,v-sdk,v-sdk-version,v-host,v-referrer"
BROWSER_PATHS = ["/e", "/i", "/u", "/r", "/l", "/api/v1/event"]


def preflight(path: str, origin: str = PAGE) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": TRACKER_HEADERS,
    }


@pytest.mark.parametrize("path", BROWSER_PATHS)
def test_preflights_are_204_with_the_origin_credentials_and_headers(
    gateway: RunningGateway, path: str
) -> None:
    with gateway.client() as client:
        response = client.options(path, headers=preflight(path))
    assert response.status_code == 204
    assert response.content == b""
    headers = response.headers
    assert headers["access-control-allow-origin"] == PAGE
    assert headers["access-control-allow-credentials"] == "true"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == TRACKER_HEADERS
    assert int(headers["access-control-max-age"]) >= 600


def test_answers_and_errors_carry_the_origin(gateway: RunningGateway) -> None:
    body = {"name": "$pageview", "url": f"{PAGE}/{uuid.uuid4().hex}"}
    with gateway.client() as client:
        ok = client.post("/e", json=body, headers={"Origin": PAGE, "Token": gateway.vemetric_token})
        refused = client.post("/e", json=body, headers={"Origin": PAGE, "Token": "proj_unknown"})
    assert ok.status_code == 200
    assert refused.status_code == 400
    for response in (ok, refused):
        assert response.headers["access-control-allow-origin"] == PAGE
        assert response.headers["access-control-allow-credentials"] == "true"
    assert "X-Headwater-Error" in refused.headers["access-control-expose-headers"]


def test_server_to_server_endpoints_answer_no_cors(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        s2s = client.options("/api/v1/s2s/event", headers=preflight("/api/v1/s2s/event"))
        events = client.options("/projects/acme/events", headers=preflight("/projects/x/events"))
    for response in (s2s, events):
        assert response.status_code == 405
        assert "access-control-allow-origin" not in response.headers


def test_prefetches_are_answered_and_counted_but_not_recorded(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    raw_before = topic_size(kafka_bootstrap, topics.RAW)
    body = {
        "name": "$pageview",
        "url": f"{PAGE}/prefetched",
        "projectToken": gateway.vemetric_token,
    }
    with gateway.client() as client:
        answers = [
            client.post("/e", json=body, headers={name: value})
            for name, value in (
                ("Purpose", "prefetch"),
                ("X-Purpose", "preview"),
                ("X-Moz", "prefetch"),
            )
        ]
        metrics = client.get("/metrics").text
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * 3
    assert topic_size(kafka_bootstrap, topics.RAW) == raw_before
    assert 'headwater_gateway_prefetch_requests_total{format="vemetric"} 3.0' in metrics
