"""Turning bodies into request models: ids as strings or exact numbers, every problem named by
its field, and the property-tree limits that set a bulk element aside as `exceeds_limits`."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from gateway.errors import InvalidPayload, LimitExceeded, Problem
from gateway.settings import GatewaySettings
from gateway.validation import Id, Limits, check_properties, id_text, problems_of, validate_json

ID_REFUSED = "must be a string or a number (beyond 2^53, an integer of 64 bits)"
LIMITS = Limits(max_json_depth=2, max_properties=3, max_bulk_events=10)


class User(BaseModel):
    id: Id
    anonymous_id: Id | None = None


class Body(BaseModel):
    event_type: str
    user: User


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("8f14e45f-ceea-467f-a0e6-0a1b2c3d4e5f", "8f14e45f-ceea-467f-a0e6-0a1b2c3d4e5f"),
        ("42.0", "42.0"),  # a string is kept as it is
        ("", ""),
        (42, "42"),
        (-7, "-7"),
        (42.0, "42"),
        (1.5, "1.5"),
        (2.0**53, "9007199254740992"),
        (2**64, "18446744073709551616"),  # an exact integer, however long
        (2.0**53 + 2, None),  # a float beyond 2^53 has lost its digits
        (1e300, None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        (False, None),
        (None, None),
        ({"id": 1}, None),
        ([1], None),
    ],
)
def test_id_text_is_a_string_or_an_exact_numbers_decimal_form(value: Any, text: str | None) -> None:
    assert id_text(value) == text


@pytest.mark.parametrize(
    ("user", "stored"),
    [({"id": "u-1"}, "u-1"), ({"id": 42}, "42"), ({"id": 42.0}, "42"), ({"id": 1.5}, "1.5")],
)
def test_an_id_field_stores_strings_and_numbers_as_strings(
    user: dict[str, Any], stored: str
) -> None:
    body = Body.model_validate({"event_type": "signup", "user": user})
    assert body.user.id == stored
    assert body.model_dump()["user"]["id"] == stored


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_type": "signup", "user": {"id": 1e300}}',
        b'{"event_type": "signup", "user": {"id": true}}',
        b'{"event_type": "signup", "user": {"id": {"a": 1}}}',
        b'{"event_type": "signup", "user": {"id": [1]}}',
        b'{"event_type": "signup", "user": {"id": null}}',
    ],
)
def test_an_id_that_is_no_string_or_exact_number_is_one_problem_named_by_its_path(
    body: bytes,
) -> None:
    with pytest.raises(InvalidPayload) as refused:
        validate_json(Body, body)
    assert refused.value.problems == [Problem("user.id", ID_REFUSED)]


def test_a_null_optional_id_is_no_id() -> None:
    body = validate_json(Body, b'{"event_type": "e", "user": {"id": 1, "anonymous_id": null}}')
    assert body.user.anonymous_id is None


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (b"[1, 2]", [Problem("body", "must be a JSON object")]),
        (b'"text"', [Problem("body", "must be a JSON object")]),
        (b"{}", [Problem("event_type", "Field required"), Problem("user", "Field required")]),
        (
            b'{"event_type": 3, "user": {}}',
            [
                Problem("event_type", "Input should be a valid string"),
                Problem("user.id", "Field required"),
            ],
        ),
    ],
)
def test_validate_json_names_every_problem_by_its_field(
    body: bytes, problems: list[Problem]
) -> None:
    with pytest.raises(InvalidPayload) as refused:
        validate_json(Body, body)
    assert refused.value.problems == problems
    assert refused.value.status == 400


def test_a_body_that_is_not_json_is_a_problem_of_the_body() -> None:
    with pytest.raises(InvalidPayload) as refused:
        validate_json(Body, b'{"event_type": ')
    [problem] = refused.value.problems
    assert problem.field == "body" and problem.reason.startswith("not valid JSON")


def test_a_valid_body_becomes_the_model() -> None:
    assert validate_json(Body, b'{"event_type": "signup", "user": {"id": 7}}') == Body(
        event_type="signup", user=User(id="7")
    )


class Numbers(BaseModel):
    values: list[int]


def test_problems_of_carries_the_element_index_and_stops_at_twenty() -> None:
    with pytest.raises(ValidationError) as invalid:
        Numbers.model_validate({"values": ["x"] * 30})
    problems = problems_of(invalid.value, index=4)
    assert len(problems) == 20
    assert problems[0] == Problem("values.0", problems[0].reason, 4)
    assert str(problems[0]).startswith("[4].values.0: ")


def test_problems_of_a_value_that_is_not_an_object_name_the_body() -> None:
    with pytest.raises(ValidationError) as invalid:
        Numbers.model_validate([1])
    assert [p.field for p in problems_of(invalid.value)] == ["body"]


@pytest.mark.parametrize(
    "trees",
    [
        {"event_attributes": {"a": 1, "b": [1, 2], "c": {}}},
        {"event_attributes": {"a": {"b": 1}}},  # two levels: the limit
        {"event_attributes": None, "custom": {}},  # absent or empty trees are not looked at
        {},
    ],
)
def test_trees_within_the_limits_pass(trees: dict[str, Any]) -> None:
    check_properties(trees, LIMITS)


@pytest.mark.parametrize(
    ("trees", "problems"),
    [
        (
            {"event_attributes": {"a": 1, "b": 2, "c": 3, "d": 4}},
            [Problem("event_attributes", "more than 3 keys")],
        ),
        (
            {"event_attributes": {"a": {"b": 1, "c": 2, "d": 3}}},  # keys count at any depth
            [Problem("event_attributes", "more than 3 keys")],
        ),
        (
            {"ok": {"a": 1}, "custom": {"a": {"b": {"c": 1}}}},
            [Problem("custom", "nested deeper than 2 levels")],
        ),
        (
            {"one": {"a": [[1]]}, "two": {"a": 1, "b": 2, "c": 3, "d": 4}},
            [
                Problem("one", "nested deeper than 2 levels"),
                Problem("two", "more than 3 keys"),
            ],
        ),
    ],
)
def test_trees_beyond_the_limits_are_refused_naming_each_field(
    trees: dict[str, Any], problems: list[Problem]
) -> None:
    with pytest.raises(LimitExceeded) as refused:
        check_properties(trees, LIMITS)
    assert refused.value.problems == problems
    assert isinstance(refused.value, InvalidPayload)  # a 400, like any other invalid payload


def test_limits_are_read_from_the_gateway_settings() -> None:
    settings = GatewaySettings(max_json_depth=5, max_properties=6, max_bulk_events=7)
    assert Limits.of(settings) == Limits(max_json_depth=5, max_properties=6, max_bulk_events=7)
