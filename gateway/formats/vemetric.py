"""Vemetric's event ingestion API (hub): `POST /e` (track), `/i` (identify), `/u` (update user),
`/r` (reset user) and `/l` (page leave).

Spec: the Vemetric seed, and what Vemetric's own clients send (the SDKs and the browser tracker,
which the hub accepts too):
- The project token (public, send-only) comes from the `Token` header (the SDKs), else `Token` in
  the body (the tracker's beacons, which cannot set headers), else `projectToken` in the body (the
  seed). Likewise `Allow-Cookies` and the `V-SDK`, `V-SDK-Version`, `V-Host` headers may come in a
  beacon's body; they and `V-Referrer` go into the event's context.
- `userIdentifier` (the SDKs) names the user exactly as `identifier` (the seed) does; when both
  are sent, `identifier` wins.
- The tracker's `$$pageView` and `$$outboundLink` follow the rules of the seed's `$pageview` and
  `$outbound_link` and are stored under those seed names, so queries know one name for each.
- `userData.unset` (on `/e`) and `data.unset` (on `/i`, `/u`) remove person properties.
- `/l` records a `$pageleave` event with what the tracker sends; `/r` (the tracker forgets its
  user) checks the token, answers 200 and stores nothing, as the hub does.

Success is an empty body: 200, or 202 for `/i` ("identification in progress", as the seed lists
it). Any invalid input is 400 with the text `Invalid!`, exactly as Vemetric answers; an
`X-Headwater-Error` header says which field and why. `customData` values become strings.

Events from known bots are answered like any other but go to the bots topic, not the raw one.
Requests without an identifier get a cookieless anonymous id, as Vemetric does: a hash of the
project, client address, User-Agent and UTC day, so it rotates daily and stores no address.
"""

from collections.abc import Callable
from typing import Any

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictStr
from starlette.responses import PlainTextResponse, Response

from gateway.body import parse_json
from gateway.bots import is_bot
from gateway.errors import GatewayError, InvalidPayload
from gateway.formats import Accepted, Endpoint, IngestRequest, OutgoingRecord
from gateway.projects import Project
from gateway.validation import check_properties, validate
from schemas import topics
from schemas.event import Event, UserDataUpdate

__all__ = ["ENDPOINTS", "IdentifyUser", "PageLeave", "ResetUser", "TrackEvent", "UpdateUser"]

PAGEVIEW = "$pageview"
OUTBOUND_LINK = "$outbound_link"
PAGE_LEAVE = "$pageleave"
IDENTIFY = "$identify"
UPDATE_USER = "$update_user"
# The browser tracker's names for the seed's special events: stored under the seed's names.
CANONICAL_NAMES = {"$$pageView": PAGEVIEW, "$$outboundLink": OUTBOUND_LINK}
# Headers (or, in a beacon, body keys) the clients send, and the context key each becomes; all
# read in one pass over the raw headers (Starlette's `Headers.get` scans them once per name).
CONTEXT_HEADERS = {
    b"v-sdk": "sdk",
    b"v-sdk-version": "sdk_version",
    b"v-host": "hub_host",
    b"v-referrer": "referrer",
    b"user-agent": "user_agent",
    b"allow-cookies": "allow_cookies",
}

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
    unset: list[StrictStr] = Field(default_factory=list)


class _Body(BaseModel):
    """Fields every Vemetric body may have. Unknown fields are ignored; known ones strictly typed.
    `Token`, `Allow-Cookies` and the `V-` keys are what a beacon carries instead of headers."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    projectToken: StrictStr | None = Field(None, min_length=1)
    token: StrictStr | None = Field(None, alias="Token", min_length=1)
    allow_cookies: StrictStr | bool | None = Field(None, alias="Allow-Cookies")
    sdk: StrictStr | None = Field(None, alias="V-SDK")
    sdk_version: StrictStr | None = Field(None, alias="V-SDK-Version")
    hub_host: StrictStr | None = Field(None, alias="V-Host")
    displayName: StrictStr | None = None
    identifier: StrictStr | None = Field(
        None, validation_alias=AliasChoices("identifier", "userIdentifier"), min_length=1
    )
    contextId: StrictStr | None = None


class TrackEvent(_Body):
    """The body of `POST /e`."""

    name: StrictStr = Field(min_length=1)
    url: StrictStr | None = None
    customData: dict[str, Any] | None = None
    userData: UserData | None = None


class IdentifyUser(_Body):
    """The body of `POST /i`."""

    identifier: StrictStr = Field(
        min_length=1, validation_alias=AliasChoices("identifier", "userIdentifier")
    )
    avatarUrl: StrictStr | None = None
    data: UserData | None = None


class UpdateUser(_Body):
    """The body of `POST /u`. The identifier is optional (the SDKs send it when they know it)."""

    avatarUrl: StrictStr | None = None
    data: UserData | None = None


class PageLeave(_Body):
    """The body of `POST /l`, sent by the tracker's beacon when a page is left."""

    url: StrictStr | None = None


class ResetUser(_Body):
    """The body of `POST /r` (the tracker sends none: the token comes in its header)."""


def parse_track(request: IngestRequest) -> Accepted:
    payload = validate(TrackEvent, parse_json(request.body))
    project = _project(request, payload)
    name = CANONICAL_NAMES.get(payload.name, payload.name)
    if name in (PAGEVIEW, OUTBOUND_LINK) and not payload.url:
        raise InvalidPayload.at("url", f"required for {payload.name}")
    _check_limits(request, customData=payload.customData, userData=payload.userData)
    custom_data = {k: _as_string(v) for k, v in (payload.customData or {}).items()}
    if name == OUTBOUND_LINK and not custom_data.get("href"):
        raise InvalidPayload.at("customData.href", f"required for {payload.name}")
    event = _event(
        request, project, name, payload, payload.userData, url=payload.url, properties=custom_data
    )
    return _accepted(request, project, event, _ok)


def parse_identify(request: IngestRequest) -> Accepted:
    payload = validate(IdentifyUser, parse_json(request.body))
    project = _project(request, payload)
    _check_limits(request, data=payload.data)
    event = _event(
        request, project, IDENTIFY, payload, payload.data, links_anonymous=True,
        extra_set=_avatar(payload.avatarUrl),
    )  # fmt: skip
    return _accepted(request, project, event, _accepted_identify)


def parse_update(request: IngestRequest) -> Accepted:
    payload = validate(UpdateUser, parse_json(request.body))
    project = _project(request, payload)
    _check_limits(request, data=payload.data)
    event = _event(
        request, project, UPDATE_USER, payload, payload.data, extra_set=_avatar(payload.avatarUrl)
    )
    return _accepted(request, project, event, _ok)


def parse_page_leave(request: IngestRequest) -> Accepted:
    payload = validate(PageLeave, parse_json(request.body))
    project = _project(request, payload)
    event = _event(request, project, PAGE_LEAVE, payload, None, url=payload.url)
    return _accepted(request, project, event, _ok)


def parse_reset(request: IngestRequest) -> Accepted:
    payload = validate(ResetUser, parse_json(request.body or b"{}"))
    project = _project(request, payload)
    return Accepted(project.id, [], _ok())


def _project(request: IngestRequest, payload: _Body) -> Project:
    token = request.headers.get("token") or payload.token or payload.projectToken
    if not token:
        raise InvalidPayload.at("projectToken", "missing: send it in the Token header or the body")
    project = request.projects.by_vemetric_token(token)
    if project is None:
        raise InvalidPayload.at("projectToken", "unknown project token")
    return project


def _check_limits(request: IngestRequest, **trees: Any) -> None:
    limits = request.settings
    plain = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in trees.items()}
    check_properties(plain, limits.max_json_depth, limits.max_properties)


def _avatar(avatar_url: str | None) -> dict[str, Any]:
    return {"avatarUrl": avatar_url} if avatar_url is not None else {}


def _event(
    request: IngestRequest,
    project: Project,
    name: str,
    payload: _Body,
    user_data: UserData | None,
    *,
    url: str | None = None,
    properties: dict[str, Any] | None = None,
    links_anonymous: bool = False,
    extra_set: dict[str, Any] | None = None,
) -> Event:
    data = user_data or UserData()
    user_set = {**data.set, **(extra_set or {})}
    if payload.displayName is not None:
        user_set.setdefault("displayName", payload.displayName)
    identifier = payload.identifier
    return Event(
        event_id=request.event_id(project.id),
        project_id=project.id,
        source_format="vemetric",
        name=name,
        event_time=request.received_at,
        received_at=request.received_at,
        idempotency_key=request.idempotency_key,
        user_id=identifier,
        anonymous_id=request.cookieless_id(project.id)
        if links_anonymous or identifier is None
        else None,
        url=url,
        context=_context(request, payload),
        properties=properties or {},
        user_data=UserDataUpdate(set=user_set, set_once=data.set_once, unset=data.unset),
    )


def _context(request: IngestRequest, payload: _Body) -> dict[str, str]:
    """Request context: headers first, a beacon's body keys where a header is missing."""
    context = {
        CONTEXT_HEADERS[name]: value.decode("latin-1")
        for name, value in request.headers.raw
        if name in CONTEXT_HEADERS and value
    }
    in_body = {"sdk": payload.sdk, "sdk_version": payload.sdk_version, "hub_host": payload.hub_host}
    for key, value in in_body.items():
        if value and key not in context:
            context[key] = value
    allow_cookies = context.get("allow_cookies") or payload.allow_cookies or False
    context["allow_cookies"] = str(allow_cookies).lower()
    if payload.contextId:
        context["context_id"] = payload.contextId
    return context


def _accepted(
    request: IngestRequest, project: Project, event: Event, answer: Callable[[], Response]
) -> Accepted:
    bot = is_bot(event.context.get("user_agent", ""))
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
        TrackEvent, browser=True,
    ),
    Endpoint(
        "vemetric", "POST", "/i", parse_identify, render_error, "Identify a user",
        IdentifyUser, success_status=202, browser=True,
    ),
    Endpoint(
        "vemetric", "POST", "/u", parse_update, render_error, "Update user properties",
        UpdateUser, browser=True,
    ),
    Endpoint(
        "vemetric", "POST", "/r", parse_reset, render_error,
        "Reset the user (the tracker forgets it); stores nothing", ResetUser, browser=True,
    ),
    Endpoint(
        "vemetric", "POST", "/l", parse_page_leave, render_error, "Record a page leave",
        PageLeave, browser=True,
    ),
)  # fmt: skip
