"""Usermaven parsing: the seed's bodies, the Python SDK's and the browser tracker's shapes, ids
given as numbers, bulk elements set aside as dead letters, and their replay."""

import json
from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError, InvalidPayload, LimitExceeded, Problem, Unauthorized
from gateway.formats import Accepted
from gateway.formats.usermaven import ENDPOINTS, parse_browser, parse_s2s, replay
from gateway.projects import Project, UsermavenKey, hash_secret
from gateway.settings import GatewaySettings
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.event import Event, decode
from tests.factories import NOW, fixture, ingest_request

PROJECTS = [
    Project(
        id="p1",
        usermaven_keys=[UsermavenKey(api_key="API_KEY", server_token_hash=hash_secret("SECRET"))],
    )
]
TOKEN = "token=API_KEY.SECRET"
PATH = "/api/v1/s2s/event"
BROWSER = "/api/v1/event"
PUBLIC = "token=API_KEY"


def accept(
    body: object,
    query: str = TOKEN,
    *,
    path: str = PATH,
    key: str | None = None,
    settings: GatewaySettings | None = None,
) -> Accepted:
    request = ingest_request(
        body,  # type: ignore[arg-type]
        PROJECTS, path=path, query=query, idempotency_key=key, settings=settings,
        headers={"user-agent": "Mozilla/5.0 test"},
    )  # fmt: skip
    return (parse_s2s if path.startswith(PATH) else parse_browser)(request)


def events(accepted: Accepted) -> list[Event]:
    return [decode(r.value or b"") for r in accepted.records if r.topic == topics.RAW]


def letters(accepted: Accepted) -> list[DeadLetter]:
    return [
        DeadLetter.model_validate_json(r.value or b"")
        for r in accepted.records
        if r.topic == topics.DEAD_LETTER
    ]


def parse(
    body: object, query: str = TOKEN, key: str | None = None, path: str = PATH
) -> list[Event]:
    """The events of a body with nothing set aside."""
    accepted = accept(body, query, path=path, key=key)
    assert (accepted.response.body, accepted.set_aside) == (b'{"status":"ok"}', 0)
    return events(accepted)


def rejection(body: object, query: str = TOKEN, path: str = PATH) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        accept(body, query, path=path)
    return caught.value


def minimal(**fields: Any) -> dict[str, Any]:
    return {"event_type": "signup", "user": {"id": "u1"}} | fields


# The server-to-server endpoint: the seed -----------------------------------------------------


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


def test_the_python_sdks_trailing_slash_path_is_an_endpoint_of_its_own() -> None:
    s2s = [e for e in ENDPOINTS if e.path in (PATH, f"{PATH}/")]
    assert [(e.path, e.parse, e.bulk) for e in s2s] == [
        (PATH, parse_s2s, True),
        (f"{PATH}/", parse_s2s, True),
    ]
    [event] = parse(fixture("usermaven/custom_event"), path=f"{PATH}/")
    assert event.name == "plan_upgraded"


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
    "query", ["", "token=API_KEY", "token=API_KEY.WRONG", "token=OTHER.SECRET"]
)
def test_bad_token_is_401(query: str) -> None:
    assert isinstance(rejection(fixture("usermaven/custom_event"), query), Unauthorized)


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


@pytest.mark.parametrize("body", [[], 5, "x"])
def test_bodies_that_hold_no_event_objects_are_invalid(body: object) -> None:
    assert isinstance(rejection(body), InvalidPayload)


def test_more_elements_than_allowed_is_400() -> None:
    with pytest.raises(InvalidPayload):
        accept([minimal(), minimal()], settings=GatewaySettings(max_bulk_events=1))


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


# Bulk bodies: bad elements set aside as dead letters, with their own bytes --------------------


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
    assert orjson.loads(accepted.response.body) == {
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


# Replaying a dead letter: the element translated again, with the settings of now --------------


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
        replay(letter, GatewaySettings(max_properties=2))
    first, again = (replay(letter, GatewaySettings(max_properties=3)) for _ in range(2))
    assert first == again
    assert (first.event_id, first.user_id, first.received_at) == (letter.origin.event_id, "u1", NOW)
    assert first.properties == {"a": 1, "b": 2, "c": 3}


def test_a_replayed_event_has_the_id_the_gateway_would_have_given_it() -> None:
    letter = too_wide(key="k")
    accepted = accept([minimal(), minimal(event_attributes={"a": 1, "b": 2, "c": 3})], key="k")
    assert replay(letter, GatewaySettings()).event_id == events(accepted)[1].event_id


def test_a_browser_letter_replays_through_the_browser_translation() -> None:
    letter = too_wide(BROWSER, PUBLIC)
    assert letter.origin is not None and letter.origin.cookieless_id is not None
    event = replay(letter, GatewaySettings())
    assert event.properties == {"a": 1, "b": 2, "c": 3}


# The browser tracker's endpoint ---------------------------------------------------------------


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


def test_a_visitor_without_an_anonymous_id_gets_a_cookieless_one() -> None:
    body = fixture("usermaven/browser_batch")[0] | {"user": {"anonymous_id": ""}}
    [event] = parse(body, PUBLIC, path=BROWSER)
    assert event.anonymous_id is not None and event.anonymous_id.startswith("anon_")
    assert event.user_id is None


def test_the_trackers_bad_elements_are_set_aside_too() -> None:
    pageview = fixture("usermaven/browser_batch")[0]
    future = pageview | {"utc_time": "2026-03-06T12:00:00.000Z"}
    foreign = pageview | {"api_key": "OTHER"}
    accepted = accept([pageview, future, foreign], PUBLIC, path=BROWSER)
    assert (len(events(accepted)), accepted.set_aside) == (1, 2)
    assert [p["field"] for p in orjson.loads(accepted.response.body)["set_aside"]] == [
        "utc_time",
        "api_key",
    ]
