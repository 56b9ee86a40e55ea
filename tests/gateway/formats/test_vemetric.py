"""Vemetric `POST /e` parsing: the seed's bodies, its rules, and what is rejected."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from starlette.datastructures import Headers

from gateway.errors import InvalidPayload
from gateway.formats import ParseContext
from gateway.formats.vemetric import parse_track_event
from headwater.projects import Project, ProjectRegistry

FIXTURES = Path(__file__).parents[2] / "fixtures" / "vemetric"
TOKEN = "proj_your_project_token_here"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
CONTEXT = ParseContext(
    headers=Headers({"user-agent": "curl/8", "allow-cookies": "false", "idempotency-key": "k1"}),
    projects=ProjectRegistry([Project(id="p1", vemetric_tokens=[TOKEN])]),
    received_at=NOW,
)


def fixture(name: str) -> dict[str, object]:
    return dict(orjson.loads((FIXTURES / f"{name}.json").read_bytes()))


def parse(body: dict[str, object]) -> list:  # type: ignore[type-arg]
    return parse_track_event(orjson.dumps(body), CONTEXT)


def rejected_field(body: dict[str, object] | bytes) -> str:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(InvalidPayload) as caught:
        parse_track_event(raw, CONTEXT)
    return caught.value.field


def test_seed_pageview_becomes_one_event() -> None:
    [event] = parse(fixture("pageview"))
    assert event.project_id == "p1"
    assert event.source_format == "vemetric"
    assert event.name == "$pageview"
    assert event.url == "https://example.com/blog/article"
    assert event.user_id == "user_123"
    assert event.event_time == event.received_at == NOW
    assert event.idempotency_key == "k1"
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


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"projectToken": "proj_unknown"}, "projectToken"),
        ({"url": None}, "url"),
        ({"customData": "plan=pro"}, "customData"),
        ({"identifier": 123}, "identifier"),
    ],
)
def test_invalid_fields_are_named(change: dict[str, object], field: str) -> None:
    body = {k: v for k, v in (fixture("pageview") | change).items() if v is not None}
    assert rejected_field(body) == field


def test_missing_name_as_in_the_seed() -> None:
    assert rejected_field({"projectToken": TOKEN}) == "name"


def test_outbound_link_needs_url_and_href() -> None:
    body = {"projectToken": TOKEN, "name": "$outbound_link", "url": "https://example.com/"}
    assert rejected_field(body) == "customData.href"
    ok = body | {"customData": {"href": "https://elsewhere.example/"}}
    assert parse(ok)[0].properties == {"href": "https://elsewhere.example/"}


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b"\xff\xfe"])
def test_malformed_bodies_are_invalid(body: bytes) -> None:
    rejected_field(body)


def test_deeply_nested_custom_data_is_invalid_not_a_crash() -> None:
    nested = '{"a":' * 300 + "1" + "}" * 300
    body = f'{{"projectToken": "{TOKEN}", "name": "x", "customData": {{"k": {nested}}}}}'
    assert rejected_field(body.encode()) == "body"


def test_custom_data_number_beyond_64_bits_is_invalid_not_a_crash() -> None:
    body = f'{{"projectToken": "{TOKEN}", "name": "x", "customData": {{"n": {2**64}}}}}'
    assert rejected_field(body.encode()) == "customData"
