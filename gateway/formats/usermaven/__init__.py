"""Usermaven: the server-to-server API and the browser tracker's endpoint.

- `POST /api/v1/s2s/event?token=API_KEY.SERVER_TOKEN` (spec: the Usermaven seed), and the same
  path with the trailing slash the Python SDK (`usermaven` 0.1.2) always posts to.
- `POST /api/v1/event?token=API_KEY` from the browser tracker (`@usermaven/sdk-js` 1.5.15): the
  public API key alone. The tracker sends it as `token`, or as `p_<random>` on its randomized
  path `/api.<random>` (`randomizeUrl`), and in every element's `api_key` (which alone is
  accepted too). Its elements add `utc_time` (the event's time: live, not historical, and held
  like `_timestamp` to 1970 .. a day after receipt), `local_tz_offset`, `namespace` and `utm`
  (context), `autocapture_attributes` (for `$autocapture`), and the properties given to
  `usermaven.set()` as extra top-level fields: those and `event_attributes` are the event's
  properties. `company: {}` (no company known) is not stored. Under its strict cookie policy the
  anonymous id is empty: the visitor then gets a cookieless one (`RequestParts.cookieless_id`),
  as on Vemetric.

Ids: `user.id`, `user.anonymous_id`, `company.id`, `event_id` and the values under `ids` are
strings (UUIDs among them) or JSON numbers, as the Python SDK lets any number through; a number
is stored as its decimal string (`42` and `42.0` -> "42", `1.5` -> "1.5"). A float beyond 2^53
(so also an integer beyond 64 bits, which JSON parsers read as a float) has lost its digits and
is refused, as are booleans, objects and arrays; a null id is no id.

A bulk (array) body is never refused for one bad element: each element is translated on its own
(`translate`, pure; `headwater dlq replay` calls it too). Valid ones become events (headwater.raw);
an invalid one becomes a `DeadLetter` (headwater.deadletter, keyed by project) with its exact bytes
from the body, why (`exceeds_limits` when only a depth or key limit is exceeded, else
`invalid_record`), and the request's origin, to be translated again after a fix or a raised limit.
The answer is still 200, as both SDKs count anything else as a failure of the whole batch (the
Python SDK drops it on a 4xx, the tracker retries it, then drops it), and names what was set aside:
`{"status": "ok", "set_aside": [{"index", "field", "reason"}]}`; `{"status": "ok"}` when nothing
was. An invalid single (non-array) body is a 400, an unknown key 401, an empty array or one longer
than `max_bulk_events` 400; errors are `{"status": "error", "message": ..., "errors": [{"index",
"field", "reason"}]}`.
"""

import dataclasses
from typing import Any

import orjson

from gateway.auth import Credential, Refusal
from gateway.body import element_bytes, parse_json
from gateway.errors import GatewayError, InvalidPayload, LimitExceeded, Problem, Unauthorized
from gateway.event_record import EventRecord
from gateway.formats import Endpoint, ErrorBody, Reading, Reply, RequestParts, Translation
from gateway.formats.usermaven.events import Batch, BrowserEvent, UsermavenEvent, translate
from gateway.projects import Project
from gateway.validation import Limits, id_text
from schemas.dead_letter import DeadLetter, DeadLetterReason, GatewayOrigin
from schemas.event import Event

__all__ = ["ENDPOINTS", "BrowserEvent", "UsermavenEvent", "replay"]

S2S_PATH = "/api/v1/s2s/event"
BROWSER_PATH = "/api/v1/event"
_OK = Reply(200, orjson.dumps({"status": "ok"}))
_S2S_REFUSAL = Refusal(
    Unauthorized,
    "token",
    missing="the token query parameter must be API_KEY.SERVER_TOKEN",
    unknown="unknown API key or server token",
)
_BROWSER_REFUSAL = Refusal(
    Unauthorized,
    "token",
    missing="missing or unknown API key",
    unknown="missing or unknown API key",
)


def read_s2s(parts: RequestParts) -> Reading[str]:
    """`?token=API_KEY.SERVER_TOKEN`; the payload is the API key (the body waits)."""
    api_key, _, server_token = parts.query_params.get("token", "").partition(".")
    return api_key, Credential("usermaven_token", api_key, _S2S_REFUSAL, server_token)


def translate_s2s(parts: RequestParts, project: Project, api_key: str) -> Translation:
    batch = Batch.of(parts, project, api_key, browser=False)
    return _translate_body(parts, parse_json(parts.body), batch)


def read_browser(parts: RequestParts) -> Reading[tuple[Any, str]]:
    """The tracker's key: `token`, or `p_<random>` on its randomized path, else the body's first
    element's `api_key`; the payload is the parsed body and the key."""
    body = parse_json(parts.body)
    api_key = _browser_key(parts, body) or ""
    return (body, api_key), Credential("usermaven_api_key", api_key, _BROWSER_REFUSAL)


def translate_browser(parts: RequestParts, project: Project, read: tuple[Any, str]) -> Translation:
    body, api_key = read
    return _translate_body(parts, body, Batch.of(parts, project, api_key, browser=True))


def _browser_key(parts: RequestParts, body: Any) -> str | None:
    for name, value in parts.query_params.multi_items():
        if name == "token" or name.startswith("p_"):
            return value
    first = body[0] if isinstance(body, list) and body else body
    key = first.get("api_key") if isinstance(first, dict) else None
    return key if isinstance(key, str) else None


def _translate_body(parts: RequestParts, body: Any, batch: Batch) -> Translation:
    """Every element translated; in a bulk body, invalid ones set aside (module docstring)."""
    bulk = isinstance(body, list)
    elements = body if bulk else [body]
    if not elements:
        raise InvalidPayload.at("body", "an empty array has no events")
    if len(elements) > parts.limits.max_bulk_events:
        raise InvalidPayload.at("body", f"more than {parts.limits.max_bulk_events} events")
    events, refused = [], []
    for index, element in enumerate(elements):
        try:
            events.append(translate(element, index, batch))
        except InvalidPayload as exc:
            if not bulk:
                raise
            refused.append((index, element, exc))
    if refused:
        return _set_aside(parts, batch, events, refused)
    return Translation(_OK, events=events)


def _set_aside(
    parts: RequestParts,
    batch: Batch,
    events: list[EventRecord],
    refused: list[tuple[int, Any, InvalidPayload]],
) -> Translation:
    """The events, a dead letter for each refused element, and an answer naming them."""
    found = element_bytes(parts.body, [index for index, _, _ in refused])
    letters = [_dead_letter(parts.path, i, e, found[i], exc, batch) for i, e, exc in refused]
    problems = [Problem(p.field, p.reason, i) for i, _, exc in refused for p in exc.problems]
    answer = {"status": "ok", "set_aside": [_problem(p) for p in problems]}
    return Translation(Reply(200, orjson.dumps(answer)), events=events, dead_letters=letters)


def _dead_letter(
    path: str, index: int, element: Any, raw: bytes, error: InvalidPayload, batch: Batch
) -> DeadLetter:
    source_id = id_text(element.get("event_id")) if isinstance(element, dict) else None
    origin = GatewayOrigin(
        format="usermaven", path=path, project_id=batch.project_id,
        received_at=batch.received_at, index=index, event_id=batch.event_id(index, source_id),
        idempotency_key=batch.idempotency_key, api_key=batch.api_key,
        cookieless_id=batch.cookieless_id,
    )  # fmt: skip
    reason: DeadLetterReason = (
        "exceeds_limits" if isinstance(error, LimitExceeded) else "invalid_record"
    )
    return DeadLetter.of_element(reason, str(error), raw, origin)


def replay(letter: DeadLetter, limits: Limits) -> Event:
    """The event a gateway dead letter's element makes with this code and `limits`, or
    InvalidPayload. It keeps the id in the letter, so replaying twice makes one event downstream."""
    origin = letter.origin
    if origin is None:
        raise ValueError("not a gateway dead letter")
    event_id = origin.event_id
    batch = Batch(
        origin.project_id, origin.api_key or "", origin.received_at, limits,
        lambda _index, _source_id: event_id, origin.idempotency_key,
        browser=not origin.path.startswith(S2S_PATH), cookieless_id=origin.cookieless_id,
    )  # fmt: skip
    # A replay is rare: its event is validated against the model, as a direct producer's is.
    return Event.model_validate(translate(parse_json(letter.payload.encode()), origin.index, batch))


def _problem(problem: Problem) -> dict[str, Any]:
    where = {} if problem.index is None else {"index": problem.index}
    return where | {"field": problem.field, "reason": problem.reason}


def render_error(error: GatewayError) -> ErrorBody:
    body = {
        "status": "error",
        "message": str(error),
        "errors": [_problem(p) for p in error.problems],
    }
    return ErrorBody(orjson.dumps(body), "application/json")


_S2S = Endpoint(
    "usermaven", "POST", S2S_PATH, read_s2s, translate_s2s, render_error,
    "Send one event or a bulk array of events", UsermavenEvent, bulk=True,
)  # fmt: skip
_BROWSER = Endpoint(
    "usermaven", "POST", BROWSER_PATH, read_browser, translate_browser, render_error,
    "The browser tracker's events, with the public API key alone", BrowserEvent, bulk=True,
    browser=True,
)  # fmt: skip
ENDPOINTS = (
    _S2S,
    dataclasses.replace(_S2S, path=f"{S2S_PATH}/"),  # where the Python SDK posts
    _BROWSER,
    dataclasses.replace(_BROWSER, path="/api.{suffix}"),  # the tracker's `randomizeUrl` path
)
