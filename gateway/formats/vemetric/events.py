"""Vemetric bodies translated into `Event`s (see the package's docstring for the rules).

Each translation returns one event with the answer Vemetric gives: 200 with an empty body, 202
for `/i`. Requests without an identifier get a cookieless anonymous id
(`RequestParts.cookieless_id`), as Vemetric does.
"""

from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel

from gateway.errors import InvalidPayload
from gateway.event_record import EventRecord, event_record, user_data
from gateway.formats import Reply, RequestParts, Translation
from gateway.formats.vemetric.models import (
    Body,
    IdentifyUser,
    PageLeave,
    TrackEvent,
    UpdateUser,
    UserData,
)
from gateway.projects import Project
from gateway.validation import check_properties

__all__ = [
    "translate_identify",
    "translate_page_leave",
    "translate_reset",
    "translate_track",
    "translate_update",
]

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
OK = Reply(200)
IDENTIFIED = Reply(202)  # "identification in progress", as the seed lists it
_NO_USER_DATA = UserData()  # read, never changed


def translate_track(parts: RequestParts, project: Project, payload: TrackEvent) -> Translation:
    name = CANONICAL_NAMES.get(payload.name, payload.name)
    if name in (PAGEVIEW, OUTBOUND_LINK) and not payload.url:
        raise InvalidPayload.at("url", f"required for {payload.name}")
    _check_limits(parts, customData=payload.customData, userData=payload.userData)
    custom_data = {k: _as_string(v) for k, v in (payload.customData or {}).items()}
    if name == OUTBOUND_LINK and not custom_data.get("href"):
        raise InvalidPayload.at("customData.href", f"required for {payload.name}")
    event = _event(
        parts, project, name, payload, payload.userData, url=payload.url, properties=custom_data
    )
    return Translation(OK, events=(event,))


def _person_update(
    name: str, reply: Reply, links_anonymous: bool
) -> Callable[[RequestParts, Project, IdentifyUser | UpdateUser], Translation]:
    """`/i` and `/u`: the person's data, and their avatar, set; `/i` also links the visitor."""

    def translate(
        parts: RequestParts, project: Project, payload: IdentifyUser | UpdateUser
    ) -> Translation:
        _check_limits(parts, data=payload.data)
        avatar = {"avatarUrl": payload.avatarUrl} if payload.avatarUrl is not None else {}
        event = _event(
            parts, project, name, payload, payload.data,
            links_anonymous=links_anonymous, extra_set=avatar,
        )  # fmt: skip
        return Translation(reply, events=(event,))

    return translate


translate_identify = _person_update(IDENTIFY, IDENTIFIED, links_anonymous=True)
translate_update = _person_update(UPDATE_USER, OK, links_anonymous=False)


def translate_page_leave(parts: RequestParts, project: Project, payload: PageLeave) -> Translation:
    return Translation(
        OK, events=(_event(parts, project, PAGE_LEAVE, payload, None, url=payload.url),)
    )


def translate_reset(parts: RequestParts, project: Project, payload: Body) -> Translation:
    """The tracker forgets its user: the token is checked, nothing is stored (as the hub does)."""
    return Translation(OK)


def _check_limits(parts: RequestParts, **trees: Any) -> None:
    plain = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in trees.items()}
    check_properties(plain, parts.limits)


def _event(
    parts: RequestParts,
    project: Project,
    name: str,
    payload: Body,
    person: UserData | None,
    *,
    url: str | None = None,
    properties: dict[str, Any] | None = None,
    links_anonymous: bool = False,
    extra_set: dict[str, Any] | None = None,
) -> EventRecord:
    data = person or _NO_USER_DATA
    user_set = {**data.set, **(extra_set or {})}
    if payload.displayName is not None:
        user_set.setdefault("displayName", payload.displayName)
    identifier = payload.identifier
    return event_record(
        event_id=parts.event_id(project.id),
        project_id=project.id,
        source_format="vemetric",
        name=name,
        event_time=parts.received_at,
        received_at=parts.received_at,
        idempotency_key=parts.idempotency_key,
        user_id=identifier,
        anonymous_id=parts.cookieless_id(project.id)
        if links_anonymous or identifier is None
        else None,
        url=url,
        context=_context(parts, payload),
        properties=properties or {},
        user_data=user_data(user_set, data.set_once, data.unset),
    )


def _context(parts: RequestParts, payload: Body) -> dict[str, str]:
    """Request context: headers first, a beacon's body keys where a header is missing."""
    context = {
        CONTEXT_HEADERS[name]: value.decode("latin-1")
        for name, value in parts.headers.raw
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


def _as_string(value: Any) -> str:
    """Vemetric converts every customData value to a string; JSON spelling for non-strings."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
