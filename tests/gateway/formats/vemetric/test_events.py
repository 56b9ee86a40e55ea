"""Vemetric bodies as events: the seed's examples and rules, and what Vemetric's own clients
send (the SDKs' headers, the browser tracker's names and beacons)."""

import orjson
import pytest

from schemas.event import decode
from tests.factories import NOW
from tests.gateway.formats.vemetric.requests import (
    PROJECTS,
    TOKEN,
    accept,
    fixture,
    parse,
    rejected_field,
    sdk_accept,
)
from tests.gateway.parts import accepted, request_parts


def test_seed_pageview_becomes_one_event() -> None:
    [event] = parse(fixture("pageview"))
    assert event.project_id == "p1"
    assert event.source_format == "vemetric"
    assert event.name == "$pageview"
    assert event.url == "https://example.com/blog/article"
    assert event.user_id == "user_123"
    assert event.event_time == event.received_at == NOW
    assert event.idempotency_key == "k1"
    assert event.anonymous_id is None
    assert event.context == {"user_agent": "curl/8", "allow_cookies": "false"}
    assert event.user_data.set == {"displayName": "john@example.com"}


def test_user_data_set_and_set_once_are_kept_apart() -> None:
    [event] = parse(fixture("signup_with_user_data"))
    assert event.user_data.set == {
        "email": "john@example.com",
        "plan": "pro",
        "displayName": "john@example.com",
    }
    assert event.user_data.set_once == {"signup_date": "2026-03-04"}


def test_custom_data_values_become_strings() -> None:
    body = fixture("purchase") | {"customData": {"n": 3, "ok": True, "obj": {"a": 1}, "s": "x"}}
    [event] = parse(body)
    assert event.properties == {"n": "3", "ok": "true", "obj": '{"a":1}', "s": "x"}


def test_unknown_fields_are_ignored() -> None:
    [event] = parse(fixture("pageview") | {"referrer": "https://a.example"})
    assert event.name == "$pageview"


def test_outbound_link_needs_url_and_href() -> None:
    body = {"projectToken": TOKEN, "name": "$outbound_link", "url": "https://example.com/"}
    assert rejected_field(body) == "customData.href"
    ok = body | {"customData": {"href": "https://elsewhere.example/"}}
    assert parse(ok)[0].properties == {"href": "https://elsewhere.example/"}


def test_custom_data_number_beyond_64_bits_becomes_a_string() -> None:
    body = f'{{"projectToken": "{TOKEN}", "name": "x", "customData": {{"n": {2**64}}}}}'
    [event] = parse(orjson.loads(body))
    assert float(event.properties["n"]) == float(2**64)


def test_anonymous_events_get_a_cookieless_daily_id() -> None:
    body = {"projectToken": TOKEN, "name": "signup"}
    [first], [second] = parse(body), parse(body)
    assert first.user_id is None
    assert first.anonymous_id is not None and first.anonymous_id == second.anonymous_id
    assert first.event_time == NOW


def test_identify_links_the_anonymous_visitor_and_answers_202() -> None:
    done = accept({"projectToken": TOKEN, "identifier": "user_123"}, "/i")
    [event] = parse({"projectToken": TOKEN, "identifier": "user_123"}, "/i")
    [anonymous] = parse({"projectToken": TOKEN, "name": "signup"})
    assert done.translation.reply.status == 202
    assert (event.name, event.user_id) == ("$identify", "user_123")
    assert event.anonymous_id == anonymous.anonymous_id


def test_update_user_sets_and_sets_once() -> None:
    body = {
        "projectToken": TOKEN,
        "displayName": "John Doe",
        "avatarUrl": "https://example.com/a.png",
        "data": {"set": {"plan": "enterprise"}, "setOnce": {"first_plan": "free"}},
    }
    [event] = parse(body, "/u")
    assert event.name == "$update_user"
    assert event.user_data.set == {
        "plan": "enterprise",
        "avatarUrl": "https://example.com/a.png",
        "displayName": "John Doe",
    }
    assert event.user_data.set_once == {"first_plan": "free"}
    assert accept(body, "/u").translation.reply.status == 200


def test_idempotency_key_makes_the_same_event_id() -> None:
    [first], [second] = parse(fixture("purchase")), parse(fixture("purchase"))
    assert first.event_id == second.event_id


# What Vemetric's own clients send (the SDKs and the browser tracker) ----------------------------


def test_sdk_token_header_and_user_identifier() -> None:
    """The Python and Node SDKs: the token in a `Token` header, the user as `userIdentifier`,
    `V-SDK` headers into the context."""
    body = {"name": "signup", "userIdentifier": "user_9", "customData": {"plan": "pro"}}
    [event] = sdk_accept(body)
    assert (event.project_id, event.user_id, event.anonymous_id) == ("p1", "user_9", None)
    assert event.context["sdk"] == "python"
    assert event.context["sdk_version"] == "0.2.0"


def test_identifier_wins_over_user_identifier() -> None:
    [event] = parse(fixture("pageview") | {"userIdentifier": "other"})
    assert event.user_id == "user_123"


@pytest.mark.parametrize(
    ("tracker_name", "stored_name", "extra"),
    [
        ("$$pageView", "$pageview", {}),
        ("$$outboundLink", "$outbound_link", {"customData": {"href": "https://out.example/"}}),
    ],
)
def test_tracker_names_are_stored_under_the_seed_names(
    tracker_name: str, stored_name: str, extra: dict[str, object]
) -> None:
    body = {"name": tracker_name, "url": "https://shop.example/a", "contextId": "c1"} | extra
    [event] = sdk_accept(body)
    assert (event.name, event.url, event.context["context_id"]) == (
        stored_name,
        "https://shop.example/a",
        "c1",
    )


def test_tracker_names_follow_the_seed_rules() -> None:
    assert rejected_field({"name": "$$pageView", "Token": TOKEN}) == "url"
    body = {"name": "$$outboundLink", "Token": TOKEN, "url": "https://shop.example/"}
    assert rejected_field(body) == "customData.href"


def test_beacon_carries_token_cookies_and_sdk_in_the_body() -> None:
    """The tracker's `sendBeacon` cannot set headers: it merges them into the JSON body."""
    body = {
        "name": "$$outboundLink",
        "url": "https://shop.example/",
        "customData": {"href": "https://out.example/"},
        "Token": TOKEN,
        "Allow-Cookies": "true",
        "V-SDK": "script",
        "V-SDK-Version": "0.6.1",
        "V-Host": "hub.shop.example",
    }
    [event] = parse(body)
    assert event.context | {"user_agent": "-"} == {
        "user_agent": "-",
        "allow_cookies": "false",  # the header (HEADERS) wins over the body
        "sdk": "script",
        "sdk_version": "0.6.1",
        "hub_host": "hub.shop.example",
    }
    parts = request_parts(body, headers={"user-agent": "Mozilla/5.0"})
    [record] = accepted(parts, PROJECTS).records
    assert decode(record.value or b"").context["allow_cookies"] == "true"


def test_referrer_header_goes_into_the_context() -> None:
    [event] = sdk_accept(fixture("pageview"), **{"v-referrer": "https://ref.example/"})
    assert event.context["referrer"] == "https://ref.example/"


def test_user_data_unset_on_track_and_data_unset_on_update() -> None:
    track = {"name": "plan_changed", "userIdentifier": "u1", "userData": {"unset": ["trial"]}}
    assert sdk_accept(track)[0].user_data.unset == ["trial"]
    update = {"userIdentifier": "u1", "data": {"set": {"plan": "pro"}, "unset": ["trial", "x"]}}
    [event] = sdk_accept(update, "/u")
    assert (event.user_data.set, event.user_data.unset) == ({"plan": "pro"}, ["trial", "x"])
    assert rejected_field({"name": "n", "Token": TOKEN, "userData": {"unset": [1]}}) == (
        "userData.unset.0"
    )


def test_tracker_identify_with_avatar_and_data() -> None:
    body = {"identifier": "u1", "displayName": "Ann", "avatarUrl": "https://a/x.png", "data": {}}
    [event] = sdk_accept(body, "/i")
    assert event.user_data.set == {"avatarUrl": "https://a/x.png", "displayName": "Ann"}
    assert event.anonymous_id is not None


def test_page_leave_is_recorded() -> None:
    body = {"url": "https://shop.example/a", "contextId": "c1", "Token": TOKEN}
    [event] = parse(body, "/l")
    assert (event.name, event.url, event.context["context_id"]) == (
        "$pageleave",
        "https://shop.example/a",
        "c1",
    )
