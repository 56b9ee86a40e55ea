"""The health routes every component serves: alive, ready or what is missing, and metrics."""

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from runtime.http import service_routes
from runtime.telemetry import ComponentMetrics


def _answers(missing: str | None) -> dict[str, tuple[int, bytes]]:
    metrics = ComponentMetrics("test")
    metrics.inc(metrics.events_received, "headwater.raw", 0, n=3)

    async def readiness() -> str | None:
        return missing

    async def call(endpoint: Callable[[Request], Awaitable[Response]]) -> tuple[int, bytes]:
        response = await endpoint(Request({"type": "http", "method": "GET", "headers": []}))
        return response.status_code, bytes(response.body)

    async def run() -> dict[str, tuple[int, bytes]]:
        routes = service_routes(metrics, readiness)
        return {route.path: await call(route.endpoint) for route in routes}

    return asyncio.run(run())


def test_a_ready_component_answers_every_route() -> None:
    answers = _answers(None)
    assert answers["/healthz"] == (200, b"ok")
    assert answers["/readyz"] == (200, b"ready")
    status, body = answers["/metrics"]
    assert status == 200
    assert (
        b'headwater_events_received_total{component="test",partition="0",topic="headwater.raw"} 3.0'
        in body
    )


def test_a_component_not_ready_says_what_is_missing() -> None:
    assert _answers("kafka unreachable")["/readyz"] == (503, b"kafka unreachable")
