"""Usermaven against the running gateway: the seed's examples, the Python SDK's path and ids, a
bulk body's bad element set aside, and the browser tracker's public key; accepted events and
dead letters are read back from the real broker."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.event import Event, decode
from tests.factories import fixture
from tests.gateway.conftest import RunningGateway, read_event, unique
from tests.helpers import read_topic_until

pytestmark = pytest.mark.integration


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
