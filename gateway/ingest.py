"""The one request path every vendor endpoint takes, whatever its format.

A format only translates (`gateway/formats/__init__.py`); the rest is here, once, as Vector's HTTP
sources only build their events and share authentication, decoding, acknowledgements and
answers (`src/sources/util/http/prelude.rs`). In order:

1. A browser endpoint answers OPTIONS and prefetches at once (`gateway/browser.py`).
2. The body is read safely: media type, size, gzip (`gateway/body.py`).
3. The format reads the request; its credential is resolved to a project (`gateway/auth.py`);
   the format translates the request (`accept`, which needs no Kafka).
4. The entries the translation requires must be in the entry replica (`check_entries`: 503 while
   it loads, else the format's own error, Embeddables' 404 ENTRY_NOT_FOUND).
5. A browser request's page must be one of the project's allowed origins (403); the records must
   fit the project's rate (429).
6. The records, each on its topic (`gateway/records.py`), are published; the answer waits for
   Kafka's ack (503 with Retry-After when it does not come). Entries written here are applied to
   this process's replica at once, so a client reads its own writes.
7. The answer: the format's success reply, or for any `GatewayError` on the way the format's error
   body with `X-Headwater-Error` (which field, and why) and `Retry-After` when there is one.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from starlette.datastructures import Headers, QueryParams
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import authenticate
from gateway.body import receive_body
from gateway.browser import is_prefetch, options_answer
from gateway.errors import Forbidden, GatewayError, InvalidPayload, KafkaUnavailable
from gateway.formats import Endpoint, Reply, RequestParts, RequiredEntry, Translation
from gateway.headers import RequestHeaders
from gateway.metrics import GatewayMetrics, RouteSeries
from gateway.projects import Project, ProjectRegistry, ProjectSource
from gateway.ratelimit import RateLimiter
from gateway.records import OutgoingRecord, records_of
from gateway.settings import GatewaySettings
from gateway.validation import Limits, problems_of
from schemas import topics

__all__ = [
    "Accepted",
    "EntryLookup",
    "Ingest",
    "Publisher",
    "accept",
    "check_entries",
    "error_response",
    "header_idempotency_key",
    "idempotency_key",
    "send_reply",
]

log = logging.getLogger(__name__)

_MAX_IDEMPOTENCY_KEY = 255
_NO_PARAMS: Mapping[str, str] = {}
_JSON_TYPE = (b"content-type", b"application/json")
_NO_QUERY = QueryParams()  # most requests have none: parsing nothing costs a few µs


@dataclass(slots=True)  # made per request: not frozen, see gateway/formats/__init__.py
class Accepted:
    """A request its format translated: its project, the translation, and the records to send."""

    project: Project
    translation: Translation
    records: list[OutgoingRecord]
    bots: int = 0  # how many of `records` go to the bots topic

    @property
    def set_aside(self) -> int:
        """How many of `records` are dead letters (bulk elements refused one by one)."""
        return len(self.translation.dead_letters)


def accept(spec: Endpoint[Any], parts: RequestParts, registry: ProjectRegistry) -> Accepted:
    """Step 3 and step 6's choice of topics: all of the path that needs neither Kafka nor the
    entry replica, so tests run it as it is."""
    try:
        payload, credential = spec.read(parts)
        project = authenticate(credential, registry)
        translation = spec.translate(parts, project, payload)
    except ValidationError as exc:  # a value the vendor model let through but a record refuses
        raise InvalidPayload(problems_of(exc)) from exc
    records, bots = records_of(translation, project.id, spec.keeps_bots_apart)
    return Accepted(project, translation, records, bots)


class Publisher(Protocol):
    """What the request path asks of Kafka (`gateway/publisher.py`): every record acknowledged,
    the partition of each returned, or KafkaUnavailable."""

    async def publish(self, records: list[OutgoingRecord]) -> list[int]: ...


class EntryLookup(Protocol):
    """What the request path asks of the entry replica (`gateway/entry_replica.py`)."""

    @property
    def ready(self) -> bool: ...

    def contains(self, key: bytes) -> bool: ...

    def apply(self, key: bytes, present: bool) -> None: ...


def check_entries(
    required: Sequence[RequiredEntry], replica: EntryLookup, retry_after_s: int
) -> None:
    """Step 4: each required entry exists, or its error; 503 while the replica is loading."""
    if not required:
        return
    if not replica.ready:
        raise KafkaUnavailable.at("entries", "entries are still loading", retry_after_s)
    for entry in required:
        if not replica.contains(entry.key):
            raise entry.missing


async def send_reply(send: Send, reply: Reply) -> None:
    """The format's success answer, with the headers Starlette's `Response` would give it
    (content-length, then content-type for a JSON body), sent as the two ASGI messages: no
    `Response` object on the path every event takes."""
    body = reply.json or b""
    headers = [(b"content-length", str(len(body)).encode())]
    if reply.json is not None:
        headers.append(_JSON_TYPE)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_response(spec: Endpoint[Any], error: GatewayError) -> Response:
    body = spec.render_error(error)
    return Response(
        body.content,
        status_code=error.status,
        headers=error.headers(),
        media_type=body.media_type,
    )


@dataclass
class Ingest:
    """The request path over the gateway's shared state: projects, Kafka, the entry replica, the
    rate limiter and the metrics. `endpoint(spec)` is the handler of one route."""

    settings: GatewaySettings
    projects: ProjectSource
    publisher: Publisher
    replica: EntryLookup
    metrics: GatewayMetrics
    limits: Limits = field(init=False)
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limits = Limits.of(self.settings)
        self.limiter = RateLimiter(
            self.settings.rate_limit_burst_s, share=1 / self.settings.workers
        )

    def endpoint(self, spec: Endpoint[Any]) -> ASGIApp:
        """The handler of one route, a plain ASGI app (gateway/routing.py says why)."""
        return _Handler(self, spec, self.metrics.route(spec.format, spec.path))

    async def handle(
        self, spec: Endpoint[Any], series: RouteSeries, scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = RequestHeaders(scope=scope)
        if spec.browser and (shortcut := self._browser_shortcut(spec, scope, headers)):
            await shortcut(scope, receive, send)
            return
        size = 0
        try:
            body = await receive_body(receive, headers, self.settings.max_body_bytes)
            size = len(body)
            accepted = accept(spec, self._parts(scope, headers, body), self.projects.registry)
            await self._deliver(spec, accepted, headers)
        except GatewayError as exc:
            log.info("refused", extra={"path": spec.path, "status": exc.status, "why": str(exc)})
            series.answered(exc.status, size)
            await error_response(spec, exc)(scope, receive, send)
            return
        series.accepted(len(accepted.records), accepted.bots, accepted.set_aside)
        reply = accepted.translation.reply
        series.answered(reply.status, size)
        await send_reply(send, reply)

    def _browser_shortcut(
        self, spec: Endpoint[Any], scope: Scope, headers: Headers
    ) -> Response | None:
        """Step 1: the answer to an OPTIONS request or a prefetch; None for a request to handle."""
        if scope["method"] == "OPTIONS":
            return options_answer()
        if is_prefetch(headers):
            self.metrics.prefetches.labels(spec.format).inc()
            return Response(status_code=200)
        return None

    def _parts(self, scope: Scope, headers: Headers, body: bytes) -> RequestParts:
        client = scope.get("client")
        return RequestParts(
            path=scope["path"],
            body=body,
            headers=headers,
            path_params=scope.get("path_params", _NO_PARAMS),
            query_params=QueryParams(query) if (query := scope["query_string"]) else _NO_QUERY,
            client_host=client[0] if client else None,
            received_at=datetime.now(UTC),
            limits=self.limits,
            idempotency_key=header_idempotency_key(headers),
        )

    async def _deliver(self, spec: Endpoint[Any], accepted: Accepted, headers: Headers) -> None:
        """Steps 4 to 6: Kafka has the records once this returns."""
        if required := accepted.translation.required_entries:
            check_entries(required, self.replica, self.settings.retry_after_s)
        project = accepted.project
        if spec.browser and not project.allows_origin(origin := headers.get("origin")):
            self.metrics.origins_refused.labels(spec.format).inc()
            raise Forbidden.at("Origin", f"{origin} is not one of this project's allowed origins")
        rate = project.rate_limit_per_s
        if rate is None:
            rate = self.settings.rate_limit_per_s
        self.limiter.take(project.id, len(accepted.records), rate)
        partitions = await self.publisher.publish(accepted.records)
        self.metrics.count_sent(accepted.records, partitions)
        for record in accepted.records:
            if record.topic == topics.ENTRIES:  # read-your-writes in this process
                self.replica.apply(record.key, record.value is not None)


@dataclass(slots=True)
class _Handler:
    """A route's handler. An object, not a closure: Starlette's `Route` takes a function as a
    request-response handler and an object as the ASGI app it is."""

    ingest: Ingest
    spec: Endpoint[Any]
    series: RouteSeries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.ingest.handle(self.spec, self.series, scope, receive, send)


def idempotency_key(request: HTTPConnection) -> str | None:
    """The request's Idempotency-Key header, or InvalidPayload when it cannot be one."""
    return header_idempotency_key(request.headers)


def header_idempotency_key(headers: Headers) -> str | None:
    key = headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise InvalidPayload.at(
            "Idempotency-Key", f"must be 1-{_MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    return key
