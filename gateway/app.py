"""Builds the gateway's ASGI app from the vendor endpoints.

Every vendor request takes the same path: read the body safely, parse it into records, check the
project's origins (browser endpoints) and rate limit, publish and wait for Kafka's ack, then
answer in the vendor's shape. Any `GatewayError` on the way becomes that vendor's error response;
nothing else is expected to raise.

Browser endpoints also answer CORS (`gateway/cors.py`) and browsers' prefetches (200, counted,
nothing recorded, as Vemetric's hub does). No path redirects: a redirect built from the request
would point at the wrong scheme behind a TLS-terminating proxy and carry the token in `Location`,
so paths with and without a trailing slash are routes of their own where clients use both.
"""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from gateway.body import read_body
from gateway.cors import BrowserCORS
from gateway.entries import EntriesReplica
from gateway.errors import Forbidden, GatewayError, InvalidPayload
from gateway.formats import Accepted, Endpoint, IngestRequest, embeddables, usermaven, vemetric
from gateway.metrics import GatewayMetrics
from gateway.projects import ProjectSource
from gateway.publisher import RecordPublisher
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.validation import problems_of
from runtime.http import service_routes
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask
from schemas import topics

__all__ = ["ENDPOINTS", "OPENAPI_FILE", "create_app"]

log = logging.getLogger(__name__)

# Routes are matched in this order: the busiest paths (browser and SDK single events) first.
ENDPOINTS: tuple[Endpoint, ...] = (
    *vemetric.ENDPOINTS,
    *usermaven.ENDPOINTS,
    *embeddables.ENDPOINTS,
)
OPENAPI_FILE = Path(__file__).with_name("openapi.json")

_MAX_IDEMPOTENCY_KEY = 255
# How browsers mark a speculative load (Chromium, Safari; Firefox): never a real visit.
_PREFETCH_HEADERS = frozenset({b"purpose", b"x-purpose", b"x-moz"})
_PREFETCH_PURPOSES = frozenset({b"prefetch", b"preview"})


class Gateway:
    """The shared state behind every endpoint: Kafka, the entries replica, projects, limits."""

    def __init__(
        self, settings: GatewaySettings, kafka: KafkaSettings, projects: ProjectSource
    ) -> None:
        self.settings = settings
        self.projects = projects
        self.metrics = GatewayMetrics()
        self.publisher = RecordPublisher(kafka, settings, self.metrics)
        self.entries = EntriesReplica(kafka)
        self.limiter = RateLimiter(settings.rate_limit_burst_s, share=1 / settings.workers)

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        await self.publisher.start()
        await self.entries.start()
        reloading = BackgroundTask(self._reload_projects, "projects-reload")
        await reloading.start()
        _tune_garbage_collector()
        try:
            yield
        finally:
            await reloading.stop()
            await self.entries.stop()
            await self.publisher.stop()

    async def readiness(self) -> str | None:
        if not self.publisher.ready:
            return "kafka unreachable"
        if not self.entries.ready:
            return "entries replica catching up"
        return None

    def endpoint(self, spec: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if spec.browser and (shortcut := self._browser_shortcut(spec, request)) is not None:
                return shortcut
            size = 0
            try:
                body = await read_body(request, self.settings.max_body_bytes)
                size = len(body)
                accepted = _parse(spec, self._ingest_request(request, body))
                origin = request.headers.get("origin") if spec.browser else None
                await self._deliver(spec, accepted, origin)
            except GatewayError as exc:
                log.info(
                    "refused", extra={"path": spec.path, "status": exc.status, "why": str(exc)}
                )
                response = spec.render_error(exc)
            else:
                events = len(accepted.records) - accepted.set_aside
                self.metrics.events_accepted.labels(spec.format).inc(events)
                if accepted.bots:
                    self.metrics.bots.labels(spec.format).inc(accepted.bots)
                if accepted.set_aside:
                    self.metrics.set_aside.labels(spec.format).inc(accepted.set_aside)
                response = accepted.response
            self.metrics.requests.labels(spec.format, spec.path, response.status_code).inc()
            self.metrics.request_bytes.labels(spec.format).inc(size)
            return response

        return handle

    def _browser_shortcut(self, spec: Endpoint, request: Request) -> Response | None:
        """The answer to a browser's OPTIONS (not a CORS preflight, which `BrowserCORS` answers)
        or prefetch, which never reach Kafka; None for a request to handle."""
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": "OPTIONS, POST"})
        if _is_prefetch(request.headers):
            self.metrics.prefetches.labels(spec.format).inc()
            return Response(status_code=200)
        return None

    def _ingest_request(self, request: Request, body: bytes) -> IngestRequest:
        return IngestRequest(
            path=request.scope["path"],
            body=body,
            headers=request.headers,
            path_params=request.path_params,
            query_params=request.query_params,
            client_host=request.client.host if request.client else None,
            received_at=datetime.now(UTC),
            projects=self.projects.registry,
            entries=self.entries,
            settings=self.settings,
            idempotency_key=_idempotency_key(request),
        )

    async def _deliver(self, spec: Endpoint, accepted: Accepted, origin: str | None) -> None:
        """Kafka has the records once this returns; first the project's origins and rate."""
        project = self.projects.registry.by_id(accepted.project_id)
        if project is not None and not project.allows_origin(origin):
            self.metrics.origins_refused.labels(spec.format).inc()
            raise Forbidden.at("Origin", f"{origin} is not one of this project's allowed origins")
        rate = project.rate_limit_per_s if project else None
        if rate is None:
            rate = self.settings.rate_limit_per_s
        self.limiter.take(accepted.project_id, len(accepted.records), rate)
        partitions = await self.publisher.publish(accepted.records)
        for record, partition in zip(accepted.records, partitions, strict=True):
            self.metrics.inc(self.metrics.events_sent, record.topic, partition)
            if record.topic == topics.ENTRIES:  # read-your-writes in this process
                self.entries.apply(record.key, record.value is not None)

    async def _reload_projects(self) -> None:
        while True:
            await asyncio.sleep(self.settings.projects_reload_s)
            if self.projects.refresh():
                log.info("projects reloaded", extra={"file": str(self.projects.path)})


def _tune_garbage_collector() -> None:
    """Measured: with the default thresholds, full collections of the long-lived objects (models,
    the bot patterns, aiokafka) paused the gateway for 23-46 ms about once a second and freed
    nothing, which set its p99. Freeze what exists after start and collect the young less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _parse(spec: Endpoint, request: IngestRequest) -> Accepted:
    try:
        return spec.parse(request)
    except ValidationError as exc:  # a value the vendor model let through but a record refuses
        raise InvalidPayload(problems_of(exc)) from exc


def _is_prefetch(headers: Headers) -> bool:
    """One pass over the raw headers: this runs on every browser request."""
    for name, value in headers.raw:
        if name in _PREFETCH_HEADERS and value.lower() in _PREFETCH_PURPOSES:
            return True
    return False


def _route(gateway: Gateway, spec: Endpoint) -> Route:
    handler = gateway.endpoint(spec)
    if not spec.browser:
        return Route(spec.path, handler, methods=[spec.method])
    cors = [Middleware(BrowserCORS)]
    return Route(spec.path, handler, methods=[spec.method, "OPTIONS"], middleware=cors)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise InvalidPayload.at(
            "Idempotency-Key", f"must be 1-{_MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    return key


def create_app(
    settings: GatewaySettings, kafka: KafkaSettings, projects: ProjectSource
) -> Starlette:
    gateway = Gateway(settings, kafka, projects)

    async def openapi(_: Request) -> Response:
        return FileResponse(OPENAPI_FILE, media_type="application/json")

    routes = [
        *(_route(gateway, e) for e in ENDPOINTS),
        Route("/openapi.json", openapi),
        *service_routes(gateway.metrics, gateway.readiness),
    ]
    app = Starlette(routes=routes, lifespan=gateway.lifespan)
    app.router.redirect_slashes = False
    return app
