"""Builds the gateway's ASGI app from explicit lists of formats and routes.

One endpoint function serves every vendor format: parse the body into events, publish them, and
answer in the vendor's shape: success only after Kafka's ack, 4xx for bad input, 503 with
`Retry-After` when Kafka is unavailable.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import InvalidPayload, KafkaUnavailable
from gateway.formats import Format, ParseContext, vemetric
from gateway.publisher import RecordPublisher
from gateway.settings import GatewaySettings
from headwater.http import service_routes
from headwater.projects import ProjectRegistry
from headwater.settings import KafkaSettings
from headwater.telemetry import ComponentMetrics
from schemas import topics

__all__ = ["FORMATS", "create_app"]

log = logging.getLogger(__name__)

FORMATS: tuple[Format, ...] = (vemetric.TRACK_EVENT,)


def create_app(
    settings: GatewaySettings, kafka: KafkaSettings, projects: ProjectRegistry
) -> Starlette:
    metrics = ComponentMetrics("gateway")
    publisher = RecordPublisher(kafka, settings, metrics)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    async def readiness() -> str | None:
        return None if publisher.ready else "kafka unavailable"

    routes = [
        *(
            Route(fmt.path, _ingest(fmt, publisher, projects, settings, metrics), methods=["POST"])
            for fmt in FORMATS
        ),
        *service_routes(metrics, readiness),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _ingest(
    fmt: Format,
    publisher: RecordPublisher,
    projects: ProjectRegistry,
    settings: GatewaySettings,
    metrics: ComponentMetrics,
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        context = ParseContext(request.headers, projects, datetime.now(UTC))
        try:
            events = fmt.parse(await request.body(), context)
        except InvalidPayload as exc:
            metrics.inc(metrics.events_dropped, topics.RAW)
            log.info("rejected", extra={"path": fmt.path, "field": exc.field, "why": exc.reason})
            return fmt.rejected(exc)
        metrics.inc(metrics.events_received, topics.RAW, n=len(events))
        try:
            await publisher.publish(events)
        except KafkaUnavailable as exc:
            log.warning("kafka unavailable", extra={"path": fmt.path, "error": str(exc)})
            return fmt.unavailable(settings.retry_after_s)
        return fmt.accepted()

    return endpoint
