"""The sink process: the Kafka consumer loop, plus its HTTP endpoints.

`/healthz`, `/readyz` (ClickHouse answers and the last write went through) and `/metrics`; and,
when ClickHouse is embedded and the sink listens on loopback, `POST /sql`: the engine's store can
be opened by one process only, so `headwater sql` reaches it through the sink that holds it (the
body is the query; `?format=` the ClickHouse output format it wants). The data folder's
`sink.json` tells `headwater sql` where that sink listens.
"""

import asyncio
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import orjson
from clickhouse_connect.driver.exceptions import ClickHouseError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from runtime.http import service_routes
from runtime.kafka import ensure_topics
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from sinks.clickhouse.sink import ClickHouseSink
from sinks.consumer import SinkConsumer
from sinks.metrics import SinkMetrics
from sinks.settings import SinkSettings

__all__ = ["create_service"]

log = logging.getLogger(__name__)


def create_service(
    settings: SinkSettings,
    headwater: HeadwaterSettings,
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    on_failure: Callable[[BaseException], None],
) -> Starlette:
    """The sink as an ASGI app; `on_failure` is called if the consumer loop dies."""
    metrics = SinkMetrics()
    sink = ClickHouseSink(
        clickhouse,
        headwater.data_dir,
        settings.batch_max_rows,
        settings.batch_max_age_ms / 1000,
        settings.writers,
    )
    consumer = SinkConsumer(sink, kafka, settings, metrics)
    serves_sql = clickhouse.embedded and _is_loopback(settings.host)
    if clickhouse.embedded and not serves_sql:
        log.warning(
            "the sink listens beyond loopback, so it does not serve /sql: "
            "`headwater sql` cannot reach the embedded store while this sink runs"
        )

    def report_failure(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            on_failure(error)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await ensure_topics(kafka)
        await sink.start()
        try:
            await consumer.start()
            assert consumer.task is not None
            consumer.task.add_done_callback(report_failure)
            if serves_sql:
                _claim_store(headwater, settings)
            yield
        finally:
            await consumer.stop()
            await sink.stop()
            if serves_sql:  # only now is the store free for another process
                headwater.sink_holder_file.unlink(missing_ok=True)

    async def readiness() -> str | None:
        if consumer.healthy_store and await _answers(sink):
            return None
        return "clickhouse unavailable"

    async def sql(request: Request) -> Response:
        query = (await request.body()).decode()
        try:
            return PlainTextResponse(await sink.query(query, request.query_params.get("format")))
        except ClickHouseError as exc:
            return PlainTextResponse(str(exc), status_code=400)

    routes = service_routes(metrics, readiness)
    if serves_sql:
        routes.append(Route("/sql", sql, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)


async def _answers(sink: ClickHouseSink) -> bool:
    try:
        return await sink.ping()
    except (ClickHouseError, OSError):
        return False


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _claim_store(headwater: HeadwaterSettings, settings: SinkSettings) -> None:
    holder = {"pid": os.getpid(), "url": f"http://{settings.host}:{settings.port}"}
    headwater.sink_holder_file.write_bytes(orjson.dumps(holder))
