"""Usermaven's endpoints: the server token and the tracker's public key, bulk bodies whose bad
elements are set aside as dead letters with their own bytes, and replaying those letters."""

import json
from typing import Any

import pytest

from gateway.errors import InvalidPayload, LimitExceeded, Unauthorized
from gateway.formats.usermaven import ENDPOINTS, read_s2s, replay, translate_s2s
from gateway.settings import GatewaySettings
from gateway.validation import Limits
from schemas.dead_letter import DeadLetter
from tests.factories import NOW, fixture
from tests.gateway.formats.usermaven.requests import (
    BROWSER,
    PATH,
    PUBLIC,
    TOKEN,
    accept,
    minimal,
    parse,
    rejection,
    reply_body,
)
from tests.gateway.parts import events, letters


def test_the_python_sdks_trailing_slash_path_is_an_endpoint_of_its_own() -> None:
    s2s = [e for e in ENDPOINTS if e.path in (PATH, f"{PATH}/")]
    assert [(e.path, e.read, e.translate, e.bulk) for e in s2s] == [
        (PATH, read_s2s, translate_s2s, True),
        (f"{PATH}/", read_s2s, translate_s2s, True),
    ]
    [event] = parse(fixture("usermaven/custom_event"), path=f"{PATH}/")
    assert event.name == "plan_upgraded"


@pytest.mark.parametrize(
    "query", ["", "token=API_KEY", "token=API_KEY.WRONG", "token=OTHER.SECRET"]
)
def test_bad_token_is_401(query: str) -> None:
    assert isinstance(rejection(fixture("usermaven/custom_event"), query), Unauthorized)


@pytest.mark.parametrize("body", [[], 5, "x"])
def test_bodies_that_hold_no_event_objects_are_invalid(body: object) -> None:
    assert isinstance(rejection(body), InvalidPayload)


def test_more_elements_than_allowed_is_400() -> None:
    with pytest.raises(InvalidPayload):
        accept([minimal(), minimal()], settings=GatewaySettings(max_bulk_events=1))


def python_sdk_body(elements: list[dict[str, Any]]) -> tuple[bytes, list[bytes]]:
    """A body as `requests` writes one (json.dumps' spacing), and each element's own bytes."""
    parts = [json.dumps(element, indent=1).encode() for element in elements]
    return b"[" + b", ".join(parts) + b"]\n", parts


def test_bad_elements_are_set_aside_and_the_rest_accepted() -> None:
    good = minimal(event_attributes={"text": 'a "quoted" ], {bracket}'})
    elements = [good, good | {"event_type": 7}, good, good | {"api_key": "NOT_MINE"}, good]
    body, parts = python_sdk_body(elements)
    accepted = accept(body, key="retry-1")
    assert accepted.set_aside == 2
    assert len(events(accepted)) == 3
    assert reply_body(accepted) == {
        "status": "ok",
        "set_aside": [
            {"index": 1, "field": "event_type", "reason": "Input should be a valid string"},
            {"index": 3, "field": "api_key", "reason": "does not match the token's API key"},
        ],
    }
    first, second = letters(accepted)
    assert [first.payload.encode(), second.payload.encode()] == [parts[1], parts[3]]
    assert (first.reason, first.stage, first.topic, first.key) == (
        "invalid_record",
        "gateway",
        None,
        None,
    )
    assert first.detail == "event_type: Input should be a valid string"
    assert first.failed_at == NOW
    origin = first.origin
    assert origin is not None
    assert (origin.format, origin.path, origin.project_id, origin.index) == (
        "usermaven",
        PATH,
        "p1",
        1,
    )
    assert (origin.received_at, origin.idempotency_key, origin.api_key) == (
        NOW,
        "retry-1",
        "API_KEY",
    )


def test_a_bulk_body_of_bad_elements_only_is_still_accepted() -> None:
    accepted = accept([5, minimal(user={})])
    assert (events(accepted), accepted.set_aside) == ([], 2)
    assert [letter.payload for letter in letters(accepted)] == [
        "5",
        '{"event_type":"signup","user":{}}',
    ]


def too_wide(path: str = PATH, query: str = TOKEN, key: str | None = None) -> DeadLetter:
    wide = minimal(event_attributes={"a": 1, "b": 2, "c": 3})
    accepted = accept(
        [minimal(), wide], query, path=path, key=key, settings=GatewaySettings(max_properties=2)
    )
    [letter] = letters(accepted)
    assert (letter.reason, accepted.set_aside) == ("exceeds_limits", 1)
    return letter


def test_a_letter_set_aside_for_a_limit_replays_once_the_limit_is_raised() -> None:
    letter = too_wide()
    assert letter.origin is not None
    with pytest.raises(LimitExceeded):
        replay(letter, Limits.of(GatewaySettings(max_properties=2)))
    first, again = (replay(letter, Limits.of(GatewaySettings(max_properties=3))) for _ in range(2))
    assert first == again
    assert (first.event_id, first.user_id, first.received_at) == (letter.origin.event_id, "u1", NOW)
    assert first.properties == {"a": 1, "b": 2, "c": 3}


def test_a_replayed_event_has_the_id_the_gateway_would_have_given_it() -> None:
    letter = too_wide(key="k")
    accepted = accept([minimal(), minimal(event_attributes={"a": 1, "b": 2, "c": 3})], key="k")
    assert replay(letter, Limits.of(GatewaySettings())).event_id == events(accepted)[1].event_id


def test_a_browser_letter_replays_through_the_browser_translation() -> None:
    letter = too_wide(BROWSER, PUBLIC)
    assert letter.origin is not None and letter.origin.cookieless_id is not None
    event = replay(letter, Limits.of(GatewaySettings()))
    assert event.properties == {"a": 1, "b": 2, "c": 3}


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (BROWSER, PUBLIC),
        ("/api.x1y2z", "p_a0b9c=API_KEY&cookie_policy=strict"),  # randomizeUrl
        (BROWSER, ""),  # the key only in the elements' api_key
    ],
)
def test_the_public_key_alone_authenticates(path: str, query: str) -> None:
    assert len(parse(fixture("usermaven/browser_batch"), query, path=path)) == 4


@pytest.mark.parametrize("query", ["token=NOT_A_KEY", TOKEN])
def test_an_unknown_public_key_is_401(query: str) -> None:
    assert isinstance(rejection(fixture("usermaven/browser_batch"), query, BROWSER), Unauthorized)


def test_a_body_without_any_key_is_401() -> None:
    body = [
        {k: v for k, v in e.items() if k != "api_key"} for e in fixture("usermaven/browser_batch")
    ]
    assert isinstance(rejection(body, "", BROWSER), Unauthorized)


def test_the_trackers_bad_elements_are_set_aside_too() -> None:
    pageview = fixture("usermaven/browser_batch")[0]
    future = pageview | {"utc_time": "2026-03-06T12:00:00.000Z"}
    foreign = pageview | {"api_key": "OTHER"}
    accepted = accept([pageview, future, foreign], PUBLIC, path=BROWSER)
    assert (len(events(accepted)), accepted.set_aside) == (1, 2)
    assert [p["field"] for p in reply_body(accepted)["set_aside"]] == [
        "utc_time",
        "api_key",
    ]
