"""Every seed example and format rule against the running gateway; accepted records are read back
from the real broker."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.entry import Entry, entry_key
from schemas.event import Event, decode
from tests.factories import NOW, fixture
from tests.gateway.conftest import RunningGateway, topic_size
from tests.helpers import eventually, produce, read_topic_until

pytestmark = pytest.mark.integration

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def read_event(kafka: str, marker: str, topic: str = topics.RAW) -> Event:
    record = read_topic_until(kafka, topic, lambda r: marker.encode() in (r.value or b""))
    return decode(record.value or b"")


def unique() -> str:
    return uuid.uuid4().hex


# Vemetric ---------------------------------------------------------------------------------------


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


# Usermaven --------------------------------------------------------------------------------------


def usermaven(gateway: RunningGateway, example: str, marker: str) -> Any:
    body = fixture(f"usermaven/{example}")
    for element in body if isinstance(body, list) else [body]:
        element["api_key"] = gateway.usermaven_api_key
        element["user"]["id"] = marker
    return body


def raw_event_with(kafka: str, *parts: bytes) -> Event:
    """The first event on headwater.raw whose record holds every one of `parts`."""
    record = read_topic_until(
        kafka, topics.RAW, lambda r: all(part in (r.value or b"") for part in parts)
    )
    return decode(record.value or b"")


@pytest.mark.parametrize("example", ["identify", "custom_event", "bulk"])
def test_usermaven_seed_examples(
    gateway: RunningGateway, kafka_bootstrap: str, example: str
) -> None:
    marker = f"user_{unique()}"
    with gateway.client() as client:
        response = client.post(
            "/api/v1/s2s/event",
            params={"token": gateway.usermaven_token},
            json=usermaven(gateway, example, marker),
        )
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    event = read_event(kafka_bootstrap, marker)
    assert (event.source_format, event.user_id, event.is_historical) == ("usermaven", marker, True)


def test_usermaven_bad_token_is_401(gateway: RunningGateway) -> None:
    with gateway.client() as client:
        response = client.post(
            "/api/v1/s2s/event",
            params={"token": f"{gateway.usermaven_api_key}.wrong"},
            json=usermaven(gateway, "custom_event", "u"),
        )
    assert response.status_code == 401
    assert response.json()["status"] == "error"


def test_usermaven_python_sdk_path_with_numeric_ids(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    marker, user_number = unique(), uuid.uuid4().int % 10**12
    track, identify = fixture("usermaven/python_sdk_track")
    track |= {"api_key": gateway.usermaven_api_key, "event_attributes": {"marker": marker}}
    track["user"]["id"] = user_number
    identify |= {"api_key": gateway.usermaven_api_key}
    with gateway.client() as client:  # exactly the SDK's request, redirects not followed
        response = client.post(
            "/api/v1/s2s/event/",
            params={"token": gateway.usermaven_token},
            content=json.dumps([track, identify]),
            headers={"Content-Type": "application/json"},
        )
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    event = read_event(kafka_bootstrap, marker)
    assert (event.user_id, event.user_data.set["company"]["id"]) == (str(user_number), "7")


def test_usermaven_bulk_bad_element_is_a_dead_letter_and_the_rest_is_written(
    gateway: RunningGateway, kafka_bootstrap: str
) -> None:
    marker = f"user_{unique()}"
    good = usermaven(gateway, "bulk", marker)
    bad = json.dumps(good[0] | {"event_type": None}, indent=2)
    body = "[" + ", ".join([*(json.dumps(e) for e in good), bad]) + "]"
    with gateway.client() as client:
        response = client.post(
            "/api/v1/s2s/event",
            params={"token": gateway.usermaven_token},
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert (response.status_code, response.json()) == (
        200,
        {
            "status": "ok",
            "set_aside": [
                {"index": 2, "field": "event_type", "reason": "Input should be a valid string"}
            ],
        },
    )
    for amount in (b'"amount":100', b'"amount":25'):  # both valid elements are written
        assert raw_event_with(kafka_bootstrap, marker.encode(), amount).user_id == marker
    letter = DeadLetter.model_validate_json(
        read_topic_until(
            kafka_bootstrap, topics.DEAD_LETTER, lambda r: marker.encode() in (r.value or b"")
        ).value
        or b""
    )
    assert (letter.payload, letter.stage, letter.reason) == (bad, "gateway", "invalid_record")
    assert letter.origin is not None
    assert (letter.origin.project_id, letter.origin.index) == ("acme", 2)


@pytest.mark.parametrize(
    ("path", "key_parameter"),
    [("/api/v1/event", "token"), ("/api.k3x9q", "p_7hd2a")],  # the second: `randomizeUrl`
)
def test_usermaven_browser_tracker_with_the_public_api_key_alone(
    gateway: RunningGateway, kafka_bootstrap: str, path: str, key_parameter: str
) -> None:
    marker, now = unique(), datetime.now(UTC).isoformat(timespec="milliseconds")
    body = fixture("usermaven/browser_batch")
    for element in body:
        element |= {"api_key": gateway.usermaven_api_key, "utc_time": now.replace("+00:00", "Z")}
        element["user"]["anonymous_id"] = marker
    with gateway.client() as client:
        response = client.post(
            path,
            params={key_parameter: gateway.usermaven_api_key},
            content=json.dumps(body),
            headers={"Content-Type": "application/json", "Origin": "https://shop.example"},
        )
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    event = read_event(kafka_bootstrap, marker)
    assert (event.source_format, event.anonymous_id, event.is_historical) == (
        "usermaven",
        marker,
        False,
    )
    assert event.event_time.isoformat(timespec="milliseconds") == now


# Embeddables ------------------------------------------------------------------------------------


def embeddables_headers(key: str) -> dict[str, str]:
    return {"X-Api-Key": key, "Content-Type": "application/json"}


def entry_body(embeddable: str, email: str) -> dict[str, Any]:
    return {"embeddable_id": embeddable, "identifiers": [{"key": "email", "value": f'"{email}"'}]}


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
