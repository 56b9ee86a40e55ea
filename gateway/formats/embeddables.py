"""Embeddables' server-side events API: `POST /projects/{projectId}/events` with `X-Api-Key: rk_…`.

Spec: the Embeddables seed. An event names its user by exactly one identifier whose `value` is a
stringified JSON value (`"\\"test@test.com\\""`); the double-escaped form the seed's troubleshooting
mentions (`"\\\\\\"test@test.com\\\\\\""`) is accepted too, and so is the value JSON-encoded twice
(`json.dumps(json.dumps(email))`, a common client mistake): a decoded value that is itself a JSON
string literal is decoded once more (no real identifier starts and ends with a double quote). A 404
names the key and value it looked for. The event must match an existing entry of (embeddable,
identifier) or the answer is 404 ENTRY_NOT_FOUND: the translation names the entry it requires, and
the request path looks it up in its replica of the entries topic. Entries are written with `PUT`
(and removed with `DELETE`) on `/projects/{projectId}/entries`, with the same key and the same
`embeddable_id` + `identifiers`.

Every error is JSON: `{"code": ..., "message": ..., "errors": [{"field", "reason"}]}`.
"""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.auth import Credential, Refusal
from gateway.errors import EntryNotFound, GatewayError, InvalidPayload, Problem, Unauthorized
from gateway.event_record import event_record
from gateway.formats import (
    DeletedEntry,
    Endpoint,
    ErrorBody,
    Reading,
    Reply,
    RequestParts,
    RequiredEntry,
    Translation,
)
from gateway.projects import Project
from gateway.validation import check_properties, validate_json
from schemas.entry import Entry, entry_key

__all__ = ["ENDPOINTS", "EmbeddablesEvent", "EntryRequest", "decode_identifier_value"]

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_ENTRY_NAMESPACE = uuid.UUID("0b1f5a3e-4c1d-4f7b-8a66-3d9f2e8c7b10")
_IDENTIFIER_HINT = 'must be a stringified JSON value, e.g. "\\"test@test.com\\""'
_REFUSAL = Refusal(
    Unauthorized,
    "X-Api-Key",
    missing="missing; send your rk_ key in the X-Api-Key header",
    unknown="unknown API key",
)
_DELETED = Reply(200, orjson.dumps({"status": "ok", "deleted": True}))

# Embeddables' `read` finds only the key, so each `translate` reads its body.
Translate = Callable[[RequestParts, Project, None], Translation]


class Identifier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: StrictStr = Field(min_length=1)
    value: StrictStr = Field(min_length=1)


class EntryRequest(BaseModel):
    """An entry to write or delete: one Embeddable's user, by one identifier."""

    model_config = ConfigDict(extra="ignore")

    embeddable_id: StrictStr = Field(min_length=1)
    identifiers: list[Identifier] = Field(
        min_length=1, max_length=1, description="Exactly one identifier (the API's current limit)."
    )
    entry_id: StrictStr | None = Field(None, min_length=1)


class EmbeddablesEvent(BaseModel):
    """The body of `POST /projects/{projectId}/events`."""

    model_config = ConfigDict(extra="ignore")

    embeddable_id: StrictStr = Field(min_length=1)
    timestamp: StrictStr = Field(min_length=1, description="ISO 8601; UTC when no offset.")
    custom_event_name: StrictStr = Field(min_length=1, pattern=SNAKE_CASE.pattern)
    identifiers: list[Identifier] = Field(min_length=1, max_length=1)
    custom_event_props: StrictStr | dict[str, Any] | None = None


def read_key(parts: RequestParts) -> Reading[None]:
    """The `X-Api-Key` header, for the project in the path; the body waits for `translate`."""
    key = parts.headers.get("x-api-key", "")
    credential = Credential(
        "embeddables_key", key, _REFUSAL, project_id=parts.path_params["projectId"]
    )
    return None, credential


def translate_event(parts: RequestParts, project: Project, _: None) -> Translation:
    payload = validate_json(EmbeddablesEvent, parts.body)
    identifier = payload.identifiers[0]
    value = decode_identifier_value(identifier.value)
    event_time = _timestamp(payload.timestamp)
    props = _custom_event_props(payload.custom_event_props)
    check_properties({"custom_event_props": props}, parts.limits)
    metrics = props.pop("payload_metrics", None) or {}
    dimensions = props.pop("payload_dimensions", None) or {}
    _check_typed(metrics, dimensions)
    event = event_record(
        event_id=parts.event_id(project.id),
        project_id=project.id,
        source_format="embeddables",
        name=payload.custom_event_name,
        event_time=event_time,
        received_at=parts.received_at,
        idempotency_key=parts.idempotency_key,
        identifier_key=identifier.key,
        identifier_value=value,
        embeddable_id=payload.embeddable_id,
        properties=props,
        metrics={k: float(v) for k, v in metrics.items()},
        dimensions=dimensions,
    )
    required = _required_entry(project, payload.embeddable_id, identifier.key, value)
    reply = _json_reply({"status": "ok", "event_id": event.event_id})
    return Translation(reply, events=(event,), required_entries=(required,))


def translate_put(parts: RequestParts, project: Project, _: None) -> Translation:
    payload, value = _entry_request(parts)
    identifier = payload.identifiers[0]
    key = entry_key(project.id, payload.embeddable_id, identifier.key, value)
    entry = Entry(
        project_id=project.id,
        embeddable_id=payload.embeddable_id,
        identifier_key=identifier.key,
        identifier_value=value,
        entry_id=payload.entry_id or uuid.uuid5(_ENTRY_NAMESPACE, key.decode()).hex,
        updated_at=parts.received_at,
    )
    return Translation(_json_reply(entry.model_dump(mode="json")), entries=(entry,))


def translate_delete(parts: RequestParts, project: Project, _: None) -> Translation:
    payload, value = _entry_request(parts)
    required = _required_entry(project, payload.embeddable_id, payload.identifiers[0].key, value)
    return Translation(
        _DELETED, entries=(DeletedEntry(required.key),), required_entries=(required,)
    )


def _entry_request(parts: RequestParts) -> tuple[EntryRequest, str]:
    """The body of `PUT` and `DELETE` on entries, and its identifier's value, decoded."""
    payload = validate_json(EntryRequest, parts.body)
    return payload, decode_identifier_value(payload.identifiers[0].value)


def _required_entry(project: Project, embeddable_id: str, name: str, value: str) -> RequiredEntry:
    """The entry an event or a deletion names, with the 404 that names the key and value."""
    return RequiredEntry(
        entry_key(project.id, embeddable_id, name, value),
        EntryNotFound.at(
            "identifiers",
            f"no entry of embeddable {embeddable_id} has {name} = {orjson.dumps(value).decode()} "
            f"(the value decoded from its JSON string; {_IDENTIFIER_HINT})",
        ),
    )


def decode_identifier_value(raw: str) -> str:
    """The identifier's value, decoded: a JSON string's text, any other JSON value as JSON.

    Accepts the documented `"\\"a@b.c\\""`, the double-escaped `"\\\\\\"a@b.c\\\\\\""` and the value
    JSON-encoded twice (`"\\"\\\\\\"a@b.c\\\\\\"\\""`)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = _unescape_once(raw)
    if isinstance(value, str):
        return _decode_twice_encoded(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _decode_twice_encoded(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    try:
        inner = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return inner if isinstance(inner, str) else value


def _unescape_once(raw: str) -> Any:
    try:
        return orjson.loads(orjson.loads(f'"{raw}"'))
    except orjson.JSONDecodeError:
        raise InvalidPayload.at("identifiers.0.value", _IDENTIFIER_HINT) from None


def _custom_event_props(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, dict):  # an object instead of its JSON string: harmless, accepted
        return dict(raw)
    try:
        props = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload.at("custom_event_props", f"not a JSON string: {exc}") from exc
    if not isinstance(props, dict):
        raise InvalidPayload.at("custom_event_props", "must hold a JSON object")
    return props


def _check_typed(metrics: Any, dimensions: Any) -> None:
    problems = _typed_problems(metrics, "payload_metrics", _is_number, "number") + _typed_problems(
        dimensions, "payload_dimensions", _is_string, "string"
    )
    if problems:
        raise InvalidPayload(problems)


def _typed_problems(
    values: Any, name: str, accepts: Callable[[Any], bool], kind: str
) -> list[Problem]:
    field = f"custom_event_props.{name}"
    if not isinstance(values, dict):
        return [Problem(field, f"must be an object of {kind}s")]
    return [
        Problem(f"{field}.{k}", f"must be a {kind}") for k, v in values.items() if not accepts(v)
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _timestamp(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidPayload.at("timestamp", "not an ISO 8601 date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_reply(body: dict[str, Any]) -> Reply:
    return Reply(200, orjson.dumps(body))


def render_error(error: GatewayError) -> ErrorBody:
    return ErrorBody(orjson.dumps(error.document()), "application/json")


def _endpoint(
    method: str, path: str, translate: Translate, summary: str, body: type[BaseModel]
) -> Endpoint[None]:
    return Endpoint("embeddables", method, path, read_key, translate, render_error, summary, body)


_EVENTS = "/projects/{projectId}/events"
_ENTRIES = "/projects/{projectId}/entries"
ENDPOINTS = (
    _endpoint("POST", _EVENTS, translate_event, "Send a custom event", EmbeddablesEvent),
    _endpoint("PUT", _ENTRIES, translate_put, "Create or update an entry", EntryRequest),
    _endpoint("DELETE", _ENTRIES, translate_delete, "Delete an entry", EntryRequest),
)
