"""Builds the gateway's ASGI app from the vendor endpoints: routes, middleware and lifespan.

Every vendor endpoint is a route whose handler is the shared request path (`gateway/ingest.py`);
browser endpoints are wrapped in CORS (`gateway/browser.py`). Their requests are taken by a plain
ASGI router in front of Starlette (`gateway/routing.py`). The lifespan starts and stops what
the request path relies on: the Kafka publisher, the entry replica, the workflow definitions
(the Embed Workflow API under `/api/v1`, gateway/workflows/), the workflow engine's counters and
the projects' reload. No path
redirects: a redirect built from the request would point at the wrong scheme behind a
TLS-terminating proxy and carry the token in `Location`, so paths with and without a trailing
slash are routes of their own where clients use both.
"""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from gateway.browser import BrowserCORS
from gateway.entry_replica import EntryReplica
from gateway.formats import Endpoint, embeddables, usermaven, vemetric
from gateway.ingest import Ingest
from gateway.metrics import GatewayMetrics
from gateway.projects import ProjectSource
from gateway.publisher import RecordPublisher
from gateway.routing import IngestRouter
from gateway.settings import GatewaySettings
from gateway.workflows.api import WorkflowApi
from gateway.workflows.stats import WorkflowStats
from gateway.workflows.store import DefinitionStore
from runtime.http import service_routes
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask

__all__ = ["ENDPOINTS", "OPENAPI_FILE", "create_app"]

log = logging.getLogger(__name__)

# Routes are matched in this order: the busiest paths (browser and SDK single events) first.
ENDPOINTS: tuple[Endpoint[Any], ...] = (
    *vemetric.ENDPOINTS,
    *usermaven.ENDPOINTS,
    *embeddables.ENDPOINTS,
)
OPENAPI_FILE = Path(__file__).with_name("openapi.json")
METRICS_FLUSH_S = 1.0


class Gateway:
    """What every endpoint shares, with its lifespan: Kafka, the entry replica, the projects."""

    def __init__(
        self, settings: GatewaySettings, kafka: KafkaSettings, projects: ProjectSource
    ) -> None:
        self.settings = settings
        self.projects = projects
        self.metrics = GatewayMetrics()
        self.publisher = RecordPublisher(kafka, settings, self.metrics)
        self.replica = EntryReplica(kafka)
        self.ingest = Ingest(settings, projects, self.publisher, self.replica, self.metrics)
        self.definitions = DefinitionStore(kafka, self.publisher, settings.workflows_write_wait_s)
        self.stats = WorkflowStats(kafka)
        self.workflows = WorkflowApi(settings, projects, self.definitions, self.stats)

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        await self.publisher.start()
        await self.replica.start()
        await self.definitions.start()
        await self.stats.start()
        reloading = BackgroundTask(self._reload_projects, "projects-reload")
        await reloading.start()
        flushing = BackgroundTask(self._flush_metrics, "metrics-flush")
        await flushing.start()
        _tune_garbage_collector()
        try:
            yield
        finally:
            await flushing.stop()
            self.metrics.flush()
            await reloading.stop()
            await self.stats.stop()
            await self.definitions.stop()
            await self.replica.stop()
            await self.publisher.stop()

    async def readiness(self) -> str | None:
        if not self.publisher.ready:
            return "kafka unreachable"
        if not self.replica.ready:
            return "entries replica catching up"
        if not self.definitions.ready:
            return "workflow definitions catching up"
        if not self.stats.ready:
            return "workflow stats catching up"
        return None

    def route(self, spec: Endpoint[Any]) -> Route:
        handler = self.ingest.endpoint(spec)
        if not spec.browser:
            return Route(spec.path, handler, methods=[spec.method])
        cors = [Middleware(BrowserCORS)]
        return Route(spec.path, handler, methods=[spec.method, "OPTIONS"], middleware=cors)

    async def _flush_metrics(self) -> None:
        """The request path's counts into prometheus-client's series once a second: with several
        workers a scrape reads every worker's multiprocess file, not their integers."""
        while True:
            await asyncio.sleep(METRICS_FLUSH_S)
            self.metrics.flush()

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


def create_app(settings: GatewaySettings, kafka: KafkaSettings, projects: ProjectSource) -> ASGIApp:
    """The Starlette app of every route, behind the plain ASGI router that takes the vendor
    endpoints' requests first (gateway/routing.py)."""
    gateway = Gateway(settings, kafka, projects)
    ingest = [gateway.route(e) for e in ENDPOINTS]

    async def openapi(_: Request) -> Response:
        return FileResponse(OPENAPI_FILE, media_type="application/json")

    routes = [
        *ingest,
        *gateway.workflows.routes(),
        Route("/openapi.json", openapi),
        *service_routes(gateway.metrics, gateway.readiness),
    ]
    app = Starlette(routes=routes, lifespan=gateway.lifespan)
    app.router.redirect_slashes = False
    return IngestRouter(ingest, app)
