"""Vemetric's endpoints: where the token is read from and how a bad one is refused, bodies that are
no event, bots kept apart, the answers, and `/r`, which stores nothing."""

import pytest

from gateway.errors import InvalidPayload
from schemas import topics
from tests.gateway.formats.vemetric.requests import TOKEN, accept, fixture, parse, rejected_field
from tests.gateway.parts import changed

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", None),
        ("name", ""),
        ("name", 42),
        ("projectToken", "proj_unknown"),
        ("url", None),
        ("customData", "plan=pro"),
        ("identifier", 123),
    ],
)
def test_invalid_fields_are_named(field: str, value: object) -> None:
    assert rejected_field(changed(fixture("pageview"), {field: value})) == field


def test_missing_name_as_in_the_seed() -> None:
    assert rejected_field({"projectToken": TOKEN}) == "name"


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b"\xff\xfe"])
def test_malformed_bodies_are_invalid(body: bytes) -> None:
    rejected_field(body)


def test_deeply_nested_custom_data_is_invalid_not_a_crash() -> None:
    nested = '{"a":' * 300 + "1" + "}" * 300
    body = f'{{"projectToken": "{TOKEN}", "name": "x", "customData": {{"k": {nested}}}}}'
    assert rejected_field(body.encode()) == "customData"


def test_json_nested_beyond_the_parser_limit_is_invalid_body() -> None:
    nested = "[" * 2000 + "]" * 2000
    assert rejected_field(f'{{"projectToken": "{TOKEN}", "name": {nested}}}'.encode()) == "body"


def test_identify_requires_identifier() -> None:
    assert rejected_field({"projectToken": TOKEN}, "/i") == "identifier"


def test_bots_go_to_the_bots_topic() -> None:
    done = accept(fixture("pageview"), **{"user-agent": GOOGLEBOT})
    assert [r.topic for r in done.records] == [topics.BOTS]
    assert done.bots == 1


def test_http_client_libraries_are_not_bots() -> None:
    done = accept(fixture("pageview"), **{"user-agent": "python-requests/2.32"})
    assert [r.topic for r in done.records] == [topics.RAW]


def test_token_precedence_header_then_body_token_then_project_token() -> None:
    body = {"name": "signup", "projectToken": "proj_unknown", "Token": TOKEN}
    assert parse(body)[0].project_id == "p1"
    with pytest.raises(InvalidPayload):
        parse({"name": "signup", "Token": "proj_unknown", "projectToken": TOKEN})
    assert rejected_field({"name": "signup"}) == "projectToken"


def test_reset_checks_the_token_and_records_nothing() -> None:
    done = accept(b"", "/r", token=TOKEN)
    assert (done.project.id, done.records, done.translation.reply.status) == ("p1", [], 200)
    assert rejected_field(b"", "/r") == "projectToken"
