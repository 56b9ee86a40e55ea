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
it). Any invalid input is 400 with the text `Invalid!`, exactly as Vemetric answers, a missing or
unknown token included; an `X-Headwater-Error` header says which field and why. `customData`
values become strings.

Events from known bots are answered like any other but go to the bots topic, not the raw one.
Requests without an identifier get a cookieless anonymous id, as Vemetric does: a hash of the
project, client address, User-Agent and UTC day, so it rotates daily and stores no address.

Models: `models.py`; their translation into events: `events.py`. The token may be in the body,
so reading a request validates the whole body.
"""

from collections.abc import Callable
from typing import TypeVar

from gateway.auth import Credential, Refusal
from gateway.errors import GatewayError, InvalidPayload
from gateway.formats import Endpoint, ErrorBody, Reading, RequestParts, Translation
from gateway.formats.vemetric.events import (
    translate_identify,
    translate_page_leave,
    translate_reset,
    translate_track,
    translate_update,
)
from gateway.formats.vemetric.models import (
    Body,
    IdentifyUser,
    PageLeave,
    ResetUser,
    TrackEvent,
    UpdateUser,
)
from gateway.projects import Project
from gateway.validation import validate_json

__all__ = ["ENDPOINTS", "render_error"]

B = TypeVar("B", bound=Body)

_REFUSAL = Refusal(
    InvalidPayload,
    "projectToken",
    missing="missing: send it in the Token header or the body",
    unknown="unknown project token",
)
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


def reader(model: type[B], empty_body: bytes = b"") -> Callable[[RequestParts], Reading[B]]:
    """Reads a body of `model` (an empty one as `empty_body`) and its token: the header, else
    the beacon's `Token`, else the seed's `projectToken`."""

    def read(parts: RequestParts) -> Reading[B]:
        payload = validate_json(model, parts.body or empty_body)
        token = parts.headers.get("token") or payload.token or payload.projectToken or ""
        return payload, Credential("vemetric_token", token, _REFUSAL)

    return read


def render_error(error: GatewayError) -> ErrorBody:
    """The text Vemetric sends; the `X-Headwater-Error` header tells a developer what was wrong."""
    return ErrorBody(_REASONS.get(error.status, "Invalid!").encode(), "text/plain")


def _endpoint(
    path: str,
    model: type[B],
    translate: Callable[[RequestParts, Project, B], Translation],
    summary: str,
    *,
    empty_body: bytes = b"",
    success_status: int = 200,
) -> Endpoint[B]:
    return Endpoint(
        "vemetric", "POST", path, reader(model, empty_body), translate, render_error, summary,
        model, success_status, browser=True, keeps_bots_apart=True,
    )  # fmt: skip


ENDPOINTS = (
    _endpoint("/e", TrackEvent, translate_track, "Track an event or pageview"),
    _endpoint("/i", IdentifyUser, translate_identify, "Identify a user", success_status=202),
    _endpoint("/u", UpdateUser, translate_update, "Update user properties"),
    _endpoint(
        "/r",
        ResetUser,
        translate_reset,
        "Reset the user (the tracker forgets it); stores nothing",
        empty_body=b"{}",
    ),
    _endpoint("/l", PageLeave, translate_page_leave, "Record a page leave"),
)
