"""The HTTP endpoints every long-running component serves: health, readiness and metrics."""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from runtime.telemetry import CONTENT_TYPE_LATEST, ComponentMetrics

__all__ = ["service_routes"]


def service_routes(
    metrics: ComponentMetrics, readiness: Callable[[], Awaitable[str | None]]
) -> list[Route]:
    """`/healthz` (the process answers), `/readyz` (`readiness()` returns None when ready, else
    what is missing) and `/metrics` (Prometheus text)."""

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        missing = await readiness()
        if missing is None:
            return PlainTextResponse("ready")
        return PlainTextResponse(missing, status_code=503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", prometheus),
    ]
