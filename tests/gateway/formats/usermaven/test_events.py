"""Usermaven elements as events: the seed's bodies, ids given as numbers as the Python SDK sends
them, and the browser tracker's elements."""

import json
from typing import Any

import pytest

from gateway.errors import InvalidPayload, Problem
from tests.factories import NOW, fixture
from tests.gateway.formats.usermaven.requests import BROWSER, PUBLIC, minimal, parse, rejection

# The server-to-server API: the seed ----------------------------------------------------------


def test_seed_identify_event() -> None:
    [event] = parse(fixture("usermaven/identify"))
    assert (event.name, event.user_id, event.anonymous_id) == (
        "user_identify",
        "lzL24K3kYw",
        "random_id",
    )
    assert event.is_historical
    assert event.event_time.isoformat() == "2021-09-20T15:02:02+00:00"
    assert event.received_at == NOW
    assert event.source_event_id is None
    assert event.url == "http://localhost:3000/example"
    assert event.context["page_title"] == "Your Page Title"
    assert event.user_data.set == {
        "email": "user@domain.com",
        "created_at": "2021-01-20T09:55:35",
        "first_name": "John",
        "last_name": "Smith",
        "plan_name": "premium",
        "company": {
            "id": "65f02acc-e104-45d9-8199-1491332d8454",
            "name": "azhar",
            "created_at": "2022-02-15T17:25:08",
            "plan": "premium",
        },
    }


def test_seed_custom_event_keeps_its_attributes() -> None:
    [event] = parse(fixture("usermaven/custom_event"))
    assert event.name == "plan_upgraded"
    assert event.properties == {"amount": 100, "currency": "USD"}


def test_seed_bulk_body_is_two_events() -> None:
    events = parse(fixture("usermaven/bulk"))
    assert [e.properties["amount"] for e in events] == [100, 25]
    assert events[0].url is None and events[1].url == "http://localhost:3000/example"


def test_without_timestamp_the_event_is_live() -> None:
    body = fixture("usermaven/custom_event")
    del body["_timestamp"]
    [event] = parse(body)
    assert (event.event_time, event.is_historical) == (NOW, False)


def test_event_id_makes_retries_the_same_event() -> None:
    body = fixture("usermaven/custom_event") | {"event_id": "evt-1"}
    [first], [second] = parse(body), parse(body)
    assert first.source_event_id == "evt-1"
    assert first.event_id == second.event_id


def test_idempotency_key_gives_each_bulk_element_its_own_stable_id() -> None:
    first, second = (
        parse(fixture("usermaven/bulk"), key="k"),
        parse(fixture("usermaven/bulk"), key="k"),
    )
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert first[0].event_id != first[1].event_id


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"event_type": ""}, "event_type"),
        ({"_timestamp": "1632150122000"}, "_timestamp"),
        ({"_timestamp": 10**18}, "_timestamp"),
        ({"_timestamp": 4102444800000}, "_timestamp"),
        ({"user": None}, "user"),
        ({"event_attributes": [1, 2]}, "event_attributes"),
    ],
)
def test_an_invalid_single_event_is_400_naming_the_field(
    change: dict[str, object], problem: str
) -> None:
    body = {k: v for k, v in (fixture("usermaven/custom_event") | change).items() if v is not None}
    error = rejection(body)
    assert isinstance(error, InvalidPayload)
    [found] = error.problems
    assert found == Problem(problem, found.reason)


def test_identify_needs_a_user_id() -> None:
    body = fixture("usermaven/identify")
    del body["user"]["id"]
    assert rejection(body).problems[0].field == "user.id"


def test_an_empty_company_is_no_company() -> None:
    [event] = parse(minimal(company={}, user={"id": "u1", "email": "a@b.c", "company": {}}))
    assert event.user_data.set == {"email": "a@b.c"}


# Ids: strings, UUIDs, and numbers as the Python SDK sends them --------------------------------


def test_the_python_sdks_numeric_and_uuid_ids_are_stored_as_strings() -> None:
    track, identify = parse(fixture("usermaven/python_sdk_track"))
    assert (track.user_id, track.anonymous_id, track.source_event_id) == ("42", "q7w8e9r0t1", None)
    assert track.user_data.set["company"] == {
        "id": "7",
        "name": "Acme",
        "created_at": "2022-02-15T17:25:08",
    }
    assert identify.user_id == "65f02acc-e104-45d9-8199-1491332d8454"
    assert track.event_id != identify.event_id


@pytest.mark.parametrize(
    ("value", "text"),
    [(42, "42"), (-7, "-7"), (42.0, "42"), (1.5, "1.5"), (2**64 - 1, str(2**64 - 1)), ("x", "x")],
)
def test_every_id_field_takes_numbers_as_their_decimal_string(value: object, text: str) -> None:
    body = minimal(
        event_id=value,
        user={"id": value, "anonymous_id": value},
        company={"id": value},
        ids={"crm": value, "unset": None},
    )
    [event] = parse(body)
    assert (event.user_id, event.anonymous_id, event.source_event_id) == (text, text, text)
    assert event.user_data.set["company"] == {"id": text}
    assert {k: v for k, v in event.context.items() if k.startswith("ids.")} == {"ids.crm": text}


@pytest.mark.parametrize("value", [True, {"id": 1}, [1], 1e20, 2**64])
@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("user.id", lambda v: minimal(user={"id": v})),
        ("user.anonymous_id", lambda v: minimal(user={"id": "u", "anonymous_id": v})),
        ("company.id", lambda v: minimal(company={"id": v})),
        ("event_id", lambda v: minimal(event_id=v)),
        ("ids.crm", lambda v: minimal(ids={"crm": v})),
    ],
)
def test_ids_stay_strict_on_other_types_and_on_lost_digits(
    field: str, body: Any, value: object
) -> None:
    [problem] = rejection(json.dumps(body(value)).encode()).problems  # 2**64 as its digits
    assert problem.field == field
    assert "string or a number" in problem.reason


# The browser tracker's elements ---------------------------------------------------------------


def test_the_trackers_batch_becomes_one_event_each() -> None:
    pageview, click, scroll, custom = parse(
        fixture("usermaven/browser_batch"), PUBLIC, path=BROWSER
    )
    assert [e.name for e in (pageview, click, scroll, custom)] == [
        "pageview",
        "$autocapture",
        "$scroll",
        "plan_selected",
    ]
    assert (pageview.anonymous_id, pageview.user_id, pageview.source_event_id) == (
        "x8d9f0a1b2",
        None,
        "k3j9x0a1b2",
    )
    assert pageview.event_time.isoformat() == "2026-03-04T11:59:58.123000+00:00"
    assert not pageview.is_historical
    assert pageview.url == "https://shop.example/pricing?utm_source=newsletter"
    assert {k: pageview.context[k] for k in ("local_tz_offset", "namespace", "utm.source")} == {
        "local_tz_offset": "-60",
        "namespace": "default",
        "utm.source": "newsletter",
    }
    assert pageview.context["ids.fbp"] == "fb.1.1772625598123.123456789"
    assert pageview.context["page_title"] == "Pricing"
    assert pageview.properties["title"] == "Pricing"
    assert pageview.user_data.set == {}
    assert click.properties["attr__id"] == "buy" and click.properties["el_text"] == "Buy now"
    assert scroll.properties["percent"] == 75
    assert custom.properties == {
        "plan": "pro",
        "experiment": {"id": "pricing-v2", "arm": "b"},
        "amount": 49,
        "currency": "EUR",
    }


def test_the_trackers_identify_links_the_visitor_to_the_user() -> None:
    [event] = parse(fixture("usermaven/browser_identify"), PUBLIC, path=BROWSER)
    assert (event.name, event.user_id, event.anonymous_id) == (
        "user_identify",
        "u_42",
        "x8d9f0a1b2",
    )
    assert event.properties == {}
    assert event.user_data.set == {
        "email": "jane@shop.example",
        "created_at": "2024-05-01T10:00:00Z",
        "first_name": "Jane",
        "plan": "pro",
        "company": {
            "id": "c_7",
            "name": "Shop Ltd",
            "created_at": "2023-01-15T08:00:00Z",
            "seats": 12,
        },
    }


def test_the_trackers_group_event_as_observed_from_a_real_browser() -> None:
    [event] = parse(fixture("usermaven/browser_group"), PUBLIC, path=BROWSER)
    assert (event.name, event.user_id, event.anonymous_id) == ("group", "user-1", "6h364y2k0w")
    assert event.user_data.set == {
        "email": "john@example.com",
        "name": "John",
        "created_at": "2024-01-01",
        "plan": "pro",
        "company": {"id": "c1", "name": "Acme", "created_at": "2024-02-02", "tier": "gold"},
    }
    assert event.context["local_tz_offset"] == "0"


@pytest.mark.parametrize(
    "utc_time",
    [
        "2026-03-05T12:00:01Z",  # more than a day after it was received
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00+05:00",  # before UTC's first year
        "2026-03-04T11:59:58",  # no time zone
        "yesterday",
    ],
)
def test_utc_time_is_held_to_the_bounds_of_timestamp(utc_time: str) -> None:
    body = fixture("usermaven/browser_batch")[0] | {"utc_time": utc_time}
    [problem] = rejection(body, PUBLIC, BROWSER).problems
    assert problem.field == "utc_time"


def test_the_trackers_empty_company_is_not_stored() -> None:
    body = fixture("usermaven/browser_identify")
    del body["user"]["company"]
    body["company"] = {}
    [event] = parse(body, PUBLIC, path=BROWSER)
    assert "company" not in event.user_data.set


def test_a_direct_pageview_is_a_single_object() -> None:
    [event] = parse(fixture("usermaven/browser_batch")[0], PUBLIC, path=BROWSER)
    assert event.name == "pageview"


def test_a_visitor_without_an_anonymous_id_gets_a_cookieless_one() -> None:
    body = fixture("usermaven/browser_batch")[0] | {"user": {"anonymous_id": ""}}
    [event] = parse(body, PUBLIC, path=BROWSER)
    assert event.anonymous_id is not None and event.anonymous_id.startswith("anon_")
    assert event.user_id is None
