"""Vemetric's event ingestion API (hub): `POST /e` tracks an event or a pageview.

Spec: the Vemetric seed document. The project token travels in the body and is public
(send-only). Success is 200 with an empty body; any invalid input is 400 with the text `Invalid!`.
`customData` values are converted to strings, as the spec promises.
"""

import uuid
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from starlette.responses import PlainTextResponse, Response

from gateway.errors import InvalidPayload
from gateway.formats import Format, ParseContext
from schemas.event import Event, UserDataUpdate

__all__ = ["TRACK_EVENT", "TrackEvent", "parse_track_event"]

PAGEVIEW = "$pageview"
OUTBOUND_LINK = "$outbound_link"


class UserData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    set: dict[str, Any] = Field(default_factory=dict)
    set_once: dict[str, Any] = Field(default_factory=dict, alias="setOnce")


class TrackEvent(BaseModel):
    """The body of `POST /e`. Unknown fields are ignored; known ones are strictly typed."""

    model_config = ConfigDict(extra="ignore")

    projectToken: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    url: StrictStr | None = None
    identifier: StrictStr | None = None
    displayName: StrictStr | None = None
    customData: dict[str, Any] | None = None
    userData: UserData | None = None
    contextId: StrictStr | None = None


def parse_track_event(body: bytes, ctx: ParseContext) -> list[Event]:
    payload = _validate(body)
    project = ctx.projects.by_vemetric_token(payload.projectToken)
    if project is None:
        raise InvalidPayload("projectToken", "unknown project token")
    if payload.name in (PAGEVIEW, OUTBOUND_LINK) and not payload.url:
        raise InvalidPayload("url", f"required for {payload.name}")
    custom_data = {k: _as_string(v) for k, v in (payload.customData or {}).items()}
    if payload.name == OUTBOUND_LINK and not custom_data.get("href"):
        raise InvalidPayload("customData.href", f"required for {OUTBOUND_LINK}")
    user_data = payload.userData or UserData()
    user_set = dict(user_data.set)
    if payload.displayName is not None:
        user_set.setdefault("displayName", payload.displayName)
    return [
        Event(
            event_id=uuid.uuid4().hex,
            project_id=project.id,
            source_format="vemetric",
            name=payload.name,
            event_time=ctx.received_at,
            received_at=ctx.received_at,
            idempotency_key=ctx.headers.get("idempotency-key"),
            user_id=payload.identifier,
            url=payload.url,
            context=_context(payload, ctx),
            properties=custom_data,
            user_data=UserDataUpdate(set=user_set, set_once=user_data.set_once),
        )
    ]


def _validate(body: bytes) -> TrackEvent:
    try:
        return TrackEvent.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidPayload(field, first["msg"]) from exc


def _as_string(value: Any) -> str:
    """Vemetric converts every customData value to a string; JSON spelling for non-strings."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:  # e.g. nested deeper than orjson writes
        raise InvalidPayload("customData", f"value cannot be converted to a string: {exc}") from exc


def _context(payload: TrackEvent, ctx: ParseContext) -> dict[str, str]:
    context = {
        "user_agent": ctx.headers.get("user-agent"),
        "allow_cookies": ctx.headers.get("allow-cookies", "false").lower(),
        "context_id": payload.contextId,
    }
    return {key: value for key, value in context.items() if value is not None}


def _ok() -> Response:
    return Response(status_code=200)


def _invalid(error: InvalidPayload) -> Response:
    # The body is exactly what Vemetric sends; the header tells a developer what was wrong.
    return PlainTextResponse(
        "Invalid!", status_code=400, headers={"X-Headwater-Error": _header_safe(str(error))}
    )


def _header_safe(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")[:200]


def _unavailable(retry_after: int) -> Response:
    return PlainTextResponse(
        "Service Unavailable", status_code=503, headers={"Retry-After": str(retry_after)}
    )


TRACK_EVENT = Format(
    path="/e",
    parse=parse_track_event,
    accepted=_ok,
    rejected=_invalid,
    unavailable=_unavailable,
)
