"""The sink process: the Kafka consumer loop, plus its HTTP endpoints.

`/healthz`, `/readyz` (ClickHouse answers and the last write went through) and `/metrics`; and,
when ClickHouse is embedded, `POST /sql`: the engine's store can be opened by one process only, so
`headwater sql` reaches it through the sink that holds it. The sink listens on loopback by
default; `holder.json` in the data folder tells `headwater sql` where to find it.
"""

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from clickhouse_connect.driver.exceptions import ClickHouseError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from headwater.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from headwater.telemetry import CONTENT_TYPE_LATEST, ComponentMetrics
from headwater.topics import ensure_topics
from sinks.clickhouse import ClickHouseSink
from sinks.consumer import SinkConsumer
from sinks.settings import SinkSettings

__all__ = ["create_service", "holder_file"]

log = logging.getLogger(__name__)


def holder_file(data_dir: Path) -> Path:
    return data_dir / "sink.json"


def create_service(
    settings: SinkSettings,
    headwater: HeadwaterSettings,
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    on_failure: Callable[[BaseException], None],
) -> Starlette:
    """The sink as an ASGI app; `on_failure` is called if the consumer loop dies."""
    metrics = ComponentMetrics("sink")
    sink = ClickHouseSink(
        clickhouse, headwater.data_dir, settings.batch_max_rows, settings.batch_max_age_ms / 1000
    )
    consumer = SinkConsumer(sink, kafka, settings, metrics)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await ensure_topics(kafka)
        await sink.setup()
        await consumer.start()
        assert consumer.task is not None
        consumer.task.add_done_callback(_report_failure)
        if clickhouse.embedded:
            _claim(headwater.data_dir, settings)
        try:
            yield
        finally:
            if clickhouse.embedded:
                holder_file(headwater.data_dir).unlink(missing_ok=True)
            await consumer.stop()
            await sink.close()

    def _report_failure(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            on_failure(error)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        if consumer.healthy_store and await _answers(sink):
            return PlainTextResponse("ready")
        return PlainTextResponse("clickhouse unavailable", status_code=503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def sql(request: Request) -> Response:
        query = (await request.body()).decode()
        try:
            return PlainTextResponse(await sink.pretty_query(query))
        except ClickHouseError as exc:
            return PlainTextResponse(str(exc), status_code=400)

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", prometheus),
    ]
    if clickhouse.embedded:
        routes.append(Route("/sql", sql, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)


async def _answers(sink: ClickHouseSink) -> bool:
    try:
        return await sink.ping()
    except (ClickHouseError, OSError):
        return False


def _claim(data_dir: Path, settings: SinkSettings) -> None:
    holder = {"pid": os.getpid(), "url": f"http://{settings.host}:{settings.port}"}
    holder_file(data_dir).write_bytes(orjson.dumps(holder))
