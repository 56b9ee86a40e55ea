"""Usermaven parsing: the seed's single and bulk bodies, tokens, and whole-body rejection."""

import pytest

from gateway.errors import GatewayError, InvalidPayload, Problem, Unauthorized
from gateway.formats.usermaven import parse_events
from headwater.projects import Project, UsermavenKey, hash_secret
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


def parse(body: object, query: str = TOKEN, key: str | None = None) -> list[Event]:
    request = ingest_request(body, PROJECTS, path=PATH, query=query, idempotency_key=key)  # type: ignore[arg-type]
    accepted = parse_events(request)
    assert accepted.response.body == b'{"status":"ok"}'
    return [decode(record.value or b"") for record in accepted.records]


def rejection(body: object, query: str = TOKEN) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        parse(body, query)
    return caught.value


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
    "query", ["", "token=API_KEY", "token=API_KEY.WRONG", "token=OTHER.SECRET"]
)
def test_bad_token_is_401(query: str) -> None:
    assert isinstance(rejection(fixture("usermaven/custom_event"), query), Unauthorized)


def test_bulk_with_bad_elements_is_refused_whole_with_indices() -> None:
    good = fixture("usermaven/custom_event")
    bad_type = good | {"event_type": 7}
    wrong_key = good | {"api_key": "NOT_MINE"}
    error = rejection([good, bad_type, good, wrong_key])
    assert isinstance(error, InvalidPayload)
    assert [(p.index, p.field) for p in error.problems] == [(1, "event_type"), (3, "api_key")]


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
def test_invalid_fields_are_named(change: dict[str, object], problem: str) -> None:
    body = {k: v for k, v in (fixture("usermaven/custom_event") | change).items() if v is not None}
    [found] = rejection(body).problems
    assert found == Problem(problem, found.reason)


def test_identify_needs_a_user_id() -> None:
    body = fixture("usermaven/identify")
    del body["user"]["id"]
    assert rejection(body).problems[0].field == "user.id"


@pytest.mark.parametrize("body", [[], 5, "x", [5]])
def test_bodies_that_hold_no_event_objects_are_invalid(body: object) -> None:
    assert isinstance(rejection(body), InvalidPayload)
