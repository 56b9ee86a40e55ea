"""Vemetric against the running gateway: the seed's examples, the answers, visitors behind a
trusted proxy, and bots kept apart; accepted events are read back from the real broker."""

from typing import Any

import pytest

from schemas import topics
from tests.factories import fixture
from tests.gateway.conftest import RunningGateway, read_event, topic_size, unique

pytestmark = pytest.mark.integration

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def vemetric(gateway: RunningGateway, name: str, **changes: Any) -> dict[str, Any]:
    return dict(fixture(f"vemetric/{name}")) | {"projectToken": gateway.vemetric_token} | changes


@pytest.mark.parametrize("example", ["pageview", "purchase", "signup_with_user_data"])
def test_vemetric_seed_track_examples(
    gateway: RunningGateway, kafka_bootstrap: str, example: str
) -> None:
    user = f"user_{unique()}"
    body = vemetric(gateway, example, identifier=user)
    with gateway.client() as client:
        response = client.post("/e", json=body, headers={"Allow-Cookies": "false"})
    assert (response.status_code, response.content) == (200, b"")
    event = read_event(kafka_bootstrap, user)
    assert (event.project_id, event.name, event.source_format) == ("acme", body["name"], "vemetric")


def test_vemetric_identify_is_202_and_update_is_200(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    user = f"user_{unique()}"
    with gateway.client() as client:
        identify = client.post("/i", json=vemetric(gateway, "identify", identifier=user))
        update = client.post("/u", json=vemetric(gateway, "update_user", identifier=user))
    assert (identify.status_code, identify.content) == (202, b"")
    assert (update.status_code, update.content) == (200, b"")
    assert read_event(kafka_bootstrap, user).name in ("$identify", "$update_user")


def test_vemetric_visitors_behind_a_trusted_proxy_are_told_apart_by_x_forwarded_for(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    """Behind a load balancer every connection comes from it: the anonymous visitor hash must use
    the client address the proxy forwards, or all visitors with one user agent become one."""
    anonymous_ids = []
    with gateway.client() as client:
        for client_ip in ("203.0.113.7", "203.0.113.8", "203.0.113.7"):
            marker = unique()
            body = vemetric(gateway, "pageview", url=f"https://example.com/{marker}")
            body.pop("identifier", None)
            body.pop("displayName", None)
            response = client.post("/e", json=body, headers={"X-Forwarded-For": client_ip})
            assert response.status_code == 200
            anonymous_ids.append(read_event(kafka_bootstrap, marker).anonymous_id)
    first, other, first_again = anonymous_ids
    assert first == first_again != other


def test_vemetric_seed_missing_name_is_400_invalid(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        response = client.post("/e", json={"projectToken": "proj_123"})
    assert (response.status_code, response.text) == (400, "Invalid!")
    assert response.headers["x-headwater-error"].startswith("name:")


def test_bots_are_answered_but_kept_apart_and_counted(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    user = f"user_{unique()}"
    raw_before = topic_size(kafka_bootstrap, topics.RAW)
    with gateway.client() as client:
        response = client.post(
            "/e",
            json=vemetric(gateway, "pageview", identifier=user),
            headers={"User-Agent": GOOGLEBOT},
        )
        metrics = client.get("/metrics").text
    assert response.status_code == 200
    assert read_event(kafka_bootstrap, user, topics.BOTS).context["user_agent"] == GOOGLEBOT
    assert topic_size(kafka_bootstrap, topics.RAW) == raw_before
    assert 'headwater_gateway_bot_events_total{format="vemetric"}' in metrics
