"""Usermaven's server-to-server endpoint: `POST /api/v1/s2s/event?token=API_KEY.SERVER_TOKEN`.

Spec: the Usermaven seed. The body is one event object or an array of them (bulk); a bulk body
with any bad element is refused whole, listing every bad index and why, so nothing is
half-written. `_timestamp` (UTC milliseconds) marks a historical import; `event_id` makes retries
collapse onto one event. Success is `{"status": "ok"}`; errors are
`{"status": "error", "message": ..., "errors": [{"index", "field", "reason"}]}`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from starlette.responses import Response

from gateway.body import parse_json
from gateway.errors import GatewayError, InvalidPayload, Problem, Unauthorized
from gateway.formats import Accepted, Endpoint, IngestRequest, OutgoingRecord
from gateway.validation import check_properties, problems_of
from headwater.projects import Project
from schemas.event import Event, UserDataUpdate

__all__ = ["ENDPOINTS", "UsermavenEvent"]

IDENTIFY = "user_identify"
# Page and device context the seed shows at the top level of an event.
CONTEXT_FIELDS = (
    "page_title", "doc_path", "doc_host", "doc_search", "referer", "vp_size",
    "screen_resolution", "user_agent", "user_language", "doc_encoding", "src",
)  # fmt: skip
_MAX_FUTURE = timedelta(days=1)
_OK = orjson.dumps({"status": "ok"})


class _Traits(BaseModel):
    """Person or company attributes: known ones typed, any others kept as custom ones."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr | None = None
    created_at: StrictStr | None = None
    custom: dict[str, Any] | None = None

    def traits(self) -> dict[str, Any]:
        known = self.model_dump(exclude={"custom"}, exclude_none=True)
        return {**known, **(self.custom or {})}


class User(_Traits):
    anonymous_id: StrictStr | None = None
    email: StrictStr | None = None
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None


class Company(_Traits):
    name: StrictStr | None = None


class UsermavenEvent(BaseModel):
    """One event of the body. Unknown fields are ignored; known ones strictly typed."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    api_key: StrictStr | None = None
    event_id: StrictStr | None = None
    event_type: StrictStr = Field(min_length=1)
    timestamp_ms: StrictInt | None = Field(None, alias="_timestamp", gt=0)
    ids: dict[str, Any] | None = None
    user: User | None = None
    company: Company | None = None
    event_attributes: dict[str, Any] | None = None
    url: StrictStr | None = None
    page_title: StrictStr | None = None
    doc_path: StrictStr | None = None
    doc_host: StrictStr | None = None
    doc_search: StrictStr | None = None
    referer: StrictStr | None = None
    vp_size: StrictStr | None = None
    screen_resolution: StrictStr | None = None
    user_agent: StrictStr | None = None
    user_language: StrictStr | None = None
    doc_encoding: StrictStr | None = None
    src: StrictStr | None = None


def parse_events(request: IngestRequest) -> Accepted:
    project, api_key = _authenticate(request)
    body = parse_json(request.body)
    elements = body if isinstance(body, list) else [body]
    if not elements:
        raise InvalidPayload.at("body", "an empty array has no events")
    if len(elements) > request.settings.max_bulk_events:
        raise InvalidPayload.at("body", f"more than {request.settings.max_bulk_events} events")
    events, problems = [], []
    for index, element in enumerate(elements):
        at = index if isinstance(body, list) else None
        try:
            events.append(_event(request, project, api_key, element, index))
        except InvalidPayload as exc:
            problems += [Problem(p.field, p.reason, at) for p in exc.problems]
    if problems:
        raise InvalidPayload(problems)
    records = [OutgoingRecord.event(event) for event in events]
    return Accepted(project.id, records, Response(_OK, media_type="application/json"))


def _authenticate(request: IngestRequest) -> tuple[Project, str]:
    api_key, _, server_token = request.query_params.get("token", "").partition(".")
    if not api_key or not server_token:
        raise Unauthorized.at("token", "the token query parameter must be API_KEY.SERVER_TOKEN")
    project = request.projects.by_usermaven_token(api_key, server_token)
    if project is None:
        raise Unauthorized.at("token", "unknown API key or server token")
    return project, api_key


def _event(
    request: IngestRequest, project: Project, api_key: str, element: Any, index: int
) -> Event:
    if not isinstance(element, dict):
        raise InvalidPayload.at("body", "each event must be a JSON object")
    try:
        payload = UsermavenEvent.model_validate(element)
    except ValidationError as exc:
        raise InvalidPayload(problems_of(exc)) from exc
    _check(request, payload, element, api_key)
    user = payload.user or User()
    traits = user.traits()
    for field in ("id", "anonymous_id"):
        traits.pop(field, None)
    if payload.company is not None:
        traits["company"] = payload.company.traits()
    event_time = _event_time(payload, request.received_at)
    return Event(
        event_id=request.event_id(project.id, index, source_id=payload.event_id),
        project_id=project.id,
        source_format="usermaven",
        name=payload.event_type,
        event_time=event_time,
        received_at=request.received_at,
        is_historical=payload.timestamp_ms is not None,
        idempotency_key=request.idempotency_key,
        source_event_id=payload.event_id or None,
        user_id=user.id,
        anonymous_id=user.anonymous_id,
        url=payload.url,
        context=_context(payload),
        properties=payload.event_attributes or {},
        user_data=UserDataUpdate(set=traits),
    )


def _check(
    request: IngestRequest, payload: UsermavenEvent, element: dict[str, Any], api_key: str
) -> None:
    if payload.api_key is not None and payload.api_key != api_key:
        raise InvalidPayload.at("api_key", "does not match the token's API key")
    user = payload.user
    if user is None or not (user.id or user.anonymous_id):
        raise InvalidPayload.at("user", "needs an id or an anonymous_id")
    if payload.event_type == IDENTIFY and not user.id:
        raise InvalidPayload.at("user.id", f"required for {IDENTIFY}")
    settings = request.settings
    trees = {name: element.get(name) for name in ("event_attributes", "ids", "user", "company")}
    check_properties(trees, settings.max_json_depth, settings.max_properties)


def _event_time(payload: UsermavenEvent, received_at: datetime) -> datetime:
    if payload.timestamp_ms is None:
        return received_at
    try:
        event_time = datetime.fromtimestamp(payload.timestamp_ms / 1000, UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise InvalidPayload.at("_timestamp", "not a UTC time in milliseconds") from exc
    if event_time > received_at + _MAX_FUTURE:
        raise InvalidPayload.at("_timestamp", "more than a day in the future (seconds, not ms?)")
    return event_time


def _context(payload: UsermavenEvent) -> dict[str, str]:
    context = {name: getattr(payload, name) for name in CONTEXT_FIELDS}
    ids = {f"ids.{k}": _as_string(v) for k, v in (payload.ids or {}).items()}
    return {k: v for k, v in context.items() if v is not None} | ids


def _as_string(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def render_error(error: GatewayError) -> Response:
    body = {
        "status": "error",
        "message": str(error),
        "errors": [
            {"index": p.index, "field": p.field, "reason": p.reason}
            if p.index is not None
            else {"field": p.field, "reason": p.reason}
            for p in error.problems
        ],
    }
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return Response(
        orjson.dumps(body), status_code=error.status, headers=headers, media_type="application/json"
    )


ENDPOINTS = (
    Endpoint(
        "usermaven", "POST", "/api/v1/s2s/event", parse_events, render_error,
        "Send one event or a bulk array of events", UsermavenEvent, bulk=True,
    ),
)  # fmt: skip
