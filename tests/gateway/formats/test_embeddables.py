"""Embeddables translation: keys, the seed's bodies, identifier values, typed metrics and
dimensions, and the entries a request requires (whether they exist, the shared request path
decides from the entry replica: tests/gateway/test_ingest.py, and against the running gateway)."""

import json

import pytest

from gateway.errors import EntryNotFound, Forbidden, GatewayError, InvalidPayload, Unauthorized
from gateway.formats.embeddables import decode_identifier_value
from gateway.projects import Project, hash_secret
from schemas.entry import entry_key
from tests.factories import fixture
from tests.gateway.parts import accepted, changed, request_parts

PROJECTS = [
    Project(id="pr_a", embeddables_key_hashes=[hash_secret("rk_a")]),
    Project(id="pr_b", embeddables_key_hashes=[hash_secret("rk_b")]),
]


def rejection(body: object, key: str | None = "rk_a", project: str = "pr_a") -> GatewayError:
    headers = {"x-api-key": key} if key else {}
    parts = request_parts(
        body,  # type: ignore[arg-type]
        path=f"/projects/{project}/events",
        headers=headers,
        path_params={"projectId": project},
    )
    with pytest.raises(GatewayError) as caught:
        accepted(parts, PROJECTS)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ('"test@test.com"', "test@test.com"),
        ('\\"test@test.com\\"', "test@test.com"),
        ("42", "42"),
        ('{"b": 1, "a": 2}', '{"a":2,"b":1}'),
        (json.dumps(json.dumps("test@test.com")), "test@test.com"),  # JSON-encoded twice
        ('"\\"quoted\\" name"', '"quoted" name'),  # quotes inside, not around: kept
    ],
)
def test_identifier_values_are_stringified_json(raw: str, decoded: str) -> None:
    assert decode_identifier_value(raw) == decoded


def test_a_bare_identifier_value_is_explained() -> None:
    with pytest.raises(InvalidPayload) as caught:
        decode_identifier_value("test@test.com")
    assert "stringified JSON" in caught.value.problems[0].reason


def test_missing_or_unknown_key_is_401_and_another_projects_key_403() -> None:
    body = fixture("embeddables/custom_event")
    assert isinstance(rejection(body, key=None), Unauthorized)
    assert isinstance(rejection(body, key="rk_nope"), Unauthorized)
    assert isinstance(rejection(body, key="rk_b"), Forbidden)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"embeddable_id": None}, "embeddable_id"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1640995200}, "timestamp"),
        ({"custom_event_name": "MyEvent"}, "custom_event_name"),
        ({"custom_event_name": "my-event"}, "custom_event_name"),
        ({"identifiers": []}, "identifiers"),
        ({"identifiers": [{"key": "email", "value": '"a"'}] * 2}, "identifiers"),
        ({"identifiers": [{"key": "email", "value": "a@b.c"}]}, "identifiers.0.value"),
        ({"custom_event_props": "{not json"}, "custom_event_props"),
        ({"custom_event_props": "[1]"}, "custom_event_props"),
        (
            {"custom_event_props": '{"payload_metrics": {"revenue": "89.99"}}'},
            "custom_event_props.payload_metrics.revenue",
        ),
        (
            {"custom_event_props": '{"payload_metrics": {"paid": true}}'},
            "custom_event_props.payload_metrics.paid",
        ),
        (
            {"custom_event_props": '{"payload_dimensions": {"plan": 3}}'},
            "custom_event_props.payload_dimensions.plan",
        ),
    ],
)
def test_invalid_fields_are_named(change: dict[str, object], field: str) -> None:
    error = rejection(changed(fixture("embeddables/purchase"), change))
    assert isinstance(error, InvalidPayload)
    assert error.problems[0].field == field


@pytest.mark.parametrize(("method", "path"), [("POST", "events"), ("DELETE", "entries")])
def test_an_event_or_a_deletion_requires_its_entry_and_names_what_it_looked_for(
    method: str, path: str
) -> None:
    parts = request_parts(
        fixture("embeddables/custom_event"),
        path=f"/projects/pr_a/{path}",
        headers={"x-api-key": "rk_a"},
    )
    [required] = accepted(parts, PROJECTS, method).translation.required_entries
    assert required.key == entry_key("pr_a", "flow_myexampleflow", "email", "test@test.com")
    assert isinstance(required.missing, EntryNotFound)
    assert str(required.missing) == (
        'identifiers: no entry of embeddable flow_myexampleflow has email = "test@test.com" '
        "(the value decoded from its JSON string; must be a stringified JSON value, "
        'e.g. "\\"test@test.com\\"")'
    )
