"""Vemetric's event ingestion API (hub): `POST /e` (track), `/i` (identify), `/u` (update user).

Spec: the Vemetric seed. The project token travels in the body and is public (send-only).
Success is an empty body: 200 for `/e` and `/u`, 202 for `/i` ("identification in progress", as
the seed lists it). Any invalid input is 400 with the text `Invalid!`, exactly as Vemetric answers;
an `X-Headwater-Error` header says which field and why. `customData` values become strings.

Events from known bots are answered like any other but go to the bots topic, not the raw one.
Requests without an `identifier` get a cookieless anonymous id, as Vemetric does: a hash of the
project, client address, User-Agent and UTC day, so it rotates daily and stores no address.
"""

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.responses import PlainTextResponse, Response

from gateway.body import parse_json
from gateway.bots import is_bot
from gateway.errors import GatewayError, InvalidPayload
from gateway.formats import Accepted, Endpoint, IngestRequest, OutgoingRecord
from gateway.validation import check_properties, validate
from headwater.projects import Project
from schemas import topics
from schemas.event import Event, UserDataUpdate

__all__ = ["ENDPOINTS", "IdentifyUser", "TrackEvent", "UpdateUser"]

PAGEVIEW = "$pageview"
OUTBOUND_LINK = "$outbound_link"
IDENTIFY = "$identify"
UPDATE_USER = "$update_user"

_REASONS = {
    400: "Invalid!",
    401: "Invalid!",
    403: "Invalid!",
    404: "Invalid!",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class UserData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    set: dict[str, Any] = Field(default_factory=dict)
    set_once: dict[str, Any] = Field(default_factory=dict, alias="setOnce")


class _Body(BaseModel):
    """Fields every Vemetric body has. Unknown fields are ignored; known ones strictly typed."""

    model_config = ConfigDict(extra="ignore")

    projectToken: StrictStr = Field(min_length=1)
    displayName: StrictStr | None = None


class TrackEvent(_Body):
    """The body of `POST /e`."""

    name: StrictStr = Field(min_length=1)
    url: StrictStr | None = None
    identifier: StrictStr | None = None
    customData: dict[str, Any] | None = None
    userData: UserData | None = None
    contextId: StrictStr | None = None


class IdentifyUser(_Body):
    """The body of `POST /i`."""

    identifier: StrictStr = Field(min_length=1)
    data: UserData | None = None


class UpdateUser(_Body):
    """The body of `POST /u`. `identifier` is optional (the SDKs send it when they know it)."""

    identifier: StrictStr | None = None
    avatarUrl: StrictStr | None = None
    data: UserData | None = None


def parse_track(request: IngestRequest) -> Accepted:
    payload = validate(TrackEvent, parse_json(request.body))
    project = _project(request, payload)
    if payload.name in (PAGEVIEW, OUTBOUND_LINK) and not payload.url:
        raise InvalidPayload.at("url", f"required for {payload.name}")
    _check_limits(request, customData=payload.customData, userData=payload.userData)
    custom_data = {k: _as_string(v) for k, v in (payload.customData or {}).items()}
    if payload.name == OUTBOUND_LINK and not custom_data.get("href"):
        raise InvalidPayload.at("customData.href", f"required for {OUTBOUND_LINK}")
    context = {"context_id": payload.contextId} if payload.contextId else {}
    event = _event(
        request, project, payload.name, payload.identifier, payload.userData, payload.displayName,
        url=payload.url, properties=custom_data, context=context,
    )  # fmt: skip
    return _accepted(request, project, event, _ok)


def parse_identify(request: IngestRequest) -> Accepted:
    payload = validate(IdentifyUser, parse_json(request.body))
    project = _project(request, payload)
    _check_limits(request, data=payload.data)
    event = _event(
        request, project, IDENTIFY, payload.identifier, payload.data, payload.displayName,
        links_anonymous=True,
    )  # fmt: skip
    return _accepted(request, project, event, _accepted_identify)


def parse_update(request: IngestRequest) -> Accepted:
    payload = validate(UpdateUser, parse_json(request.body))
    project = _project(request, payload)
    _check_limits(request, data=payload.data)
    extra = {"avatarUrl": payload.avatarUrl} if payload.avatarUrl is not None else {}
    event = _event(
        request, project, UPDATE_USER, payload.identifier, payload.data, payload.displayName,
        extra_set=extra,
    )  # fmt: skip
    return _accepted(request, project, event, _ok)


def _project(request: IngestRequest, payload: _Body) -> Project:
    project = request.projects.by_vemetric_token(payload.projectToken)
    if project is None:
        raise InvalidPayload.at("projectToken", "unknown project token")
    return project


def _check_limits(request: IngestRequest, **trees: Any) -> None:
    limits = request.settings
    plain = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in trees.items()}
    check_properties(plain, limits.max_json_depth, limits.max_properties)


def _event(
    request: IngestRequest,
    project: Project,
    name: str,
    identifier: str | None,
    user_data: UserData | None,
    display_name: str | None,
    *,
    url: str | None = None,
    properties: dict[str, Any] | None = None,
    context: dict[str, str] | None = None,
    links_anonymous: bool = False,
    extra_set: dict[str, Any] | None = None,
) -> Event:
    data = user_data or UserData()
    user_set = {**data.set, **(extra_set or {})}
    if display_name is not None:
        user_set.setdefault("displayName", display_name)
    user_agent = request.headers.get("user-agent")
    return Event(
        event_id=request.event_id(project.id),
        project_id=project.id,
        source_format="vemetric",
        name=name,
        event_time=request.received_at,
        received_at=request.received_at,
        idempotency_key=request.idempotency_key,
        user_id=identifier,
        anonymous_id=_anonymous_id(request, project)
        if links_anonymous or identifier is None
        else None,
        url=url,
        context={
            **({"user_agent": user_agent} if user_agent else {}),
            "allow_cookies": request.headers.get("allow-cookies", "false").lower(),
            **(context or {}),
        },
        properties=properties or {},
        user_data=UserDataUpdate(set=user_set, set_once=data.set_once),
    )


def _anonymous_id(request: IngestRequest, project: Project) -> str:
    day = request.received_at.date().isoformat()
    seed = f"{project.id}\n{request.client_host}\n{request.headers.get('user-agent', '')}\n{day}"
    return "anon_" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()


def _accepted(
    request: IngestRequest, project: Project, event: Event, answer: Callable[[], Response]
) -> Accepted:
    bot = is_bot(request.headers.get("user-agent", ""))
    record = OutgoingRecord.event(event, topics.BOTS if bot else topics.RAW)
    return Accepted(project.id, [record], answer(), bots=int(bot))


def _as_string(value: Any) -> str:
    """Vemetric converts every customData value to a string; JSON spelling for non-strings."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _ok() -> Response:
    return Response(status_code=200)


def _accepted_identify() -> Response:
    return Response(status_code=202)


def render_error(error: GatewayError) -> Response:
    # The body is what Vemetric sends; the header tells a developer what was wrong.
    headers = {"X-Headwater-Error": _header_safe(str(error))}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return PlainTextResponse(
        _REASONS.get(error.status, "Invalid!"), status_code=error.status, headers=headers
    )


def _header_safe(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")[:200]


ENDPOINTS = (
    Endpoint(
        "vemetric", "POST", "/e", parse_track, render_error, "Track an event or pageview",
        TrackEvent,
    ),
    Endpoint(
        "vemetric", "POST", "/i", parse_identify, render_error, "Identify a user",
        IdentifyUser, success_status=202,
    ),
    Endpoint(
        "vemetric", "POST", "/u", parse_update, render_error, "Update user properties",
        UpdateUser,
    ),
)  # fmt: skip
