"""`headwater up` and the commands that run one component each: gateway, process, engine,
sink.

Settings are read from the environment here, once, and handed to what runs.
"""

import asyncio
import os
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from gateway.settings import GatewaySettings
from processors.settings import ProcessorSettings
from runtime.errors import HeadwaterError
from runtime.logs import configure_logging
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from sinks.settings import SinkSettings

if TYPE_CHECKING:
    import faust

    from runtime.telemetry import ComponentMetrics

__all__ = ["engine", "gateway", "process", "sink", "up"]


@click.command()
def up() -> None:
    """Run the whole pipeline here (local Kafka and ClickHouse as needed) until Ctrl-C."""
    from headwater.up import run_pipeline

    settings = HeadwaterSettings()
    configure_logging(settings.log_level)
    run_pipeline(settings, KafkaSettings(), ClickHouseSettings(), GatewaySettings(), SinkSettings())


@click.command()
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this PEM certificate (HEADWATER_GATEWAY_TLS_CERT_FILE).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's PEM private key (HEADWATER_GATEWAY_TLS_KEY_FILE).",
)
def gateway(tls_cert: str | None, tls_key: str | None) -> None:
    """Run the HTTP gateway (uvicorn with uvloop and httptools: on the real path, a Vemetric
    event to Kafka's ack, it measured 14-20% less CPU per request than granian; see
    docs/performance.md, "The gateway on uvicorn")."""
    import uvicorn

    given = {"TLS_CERT_FILE": tls_cert, "TLS_KEY_FILE": tls_key}
    os.environ.update({f"HEADWATER_GATEWAY_{k}": v for k, v in given.items() if v is not None})
    settings, common = GatewaySettings(), HeadwaterSettings()
    if settings.workers > 1:  # one /metrics for all workers: prometheus-client's multiprocess mode
        metrics_dir = common.data_dir / "metrics" / "gateway"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    uvicorn.run(
        "gateway.asgi:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,  # None: serve in this process
        loop="uvloop",
        http="httptools",
        log_config=None,  # the app configures logging (runtime.logs)
        log_level=common.log_level.lower(),
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is trusted only as `trusted_proxies` says (asgi.py)
        server_header=False,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
    )


@click.command()
def process() -> None:
    """Run a stream-processor worker (faust)."""
    from processors.app import changelog_topics, create_app
    from runtime.telemetry import ComponentMetrics

    settings, kafka, processor = HeadwaterSettings(), KafkaSettings(), ProcessorSettings()
    configure_logging(settings.log_level)
    metrics = ComponentMetrics("processors")
    _serve_metrics(metrics, processor.metrics_port, processor.metrics_host)
    (settings.data_dir / "processors").mkdir(parents=True, exist_ok=True)  # faust makes one level
    _run_worker(
        kafka,
        changelog_topics(processor.app_id),
        lambda: create_app(processor, kafka, settings.data_dir, metrics),
    )


@click.command()
def engine() -> None:
    """Run a workflow-engine worker (faust): executions, delay timers, webhooks."""
    from engine.app import changelog_topics, create_app
    from engine.settings import EngineSettings
    from runtime.telemetry import ComponentMetrics

    settings, kafka, engine_settings = HeadwaterSettings(), KafkaSettings(), EngineSettings()
    configure_logging(settings.log_level)
    metrics = ComponentMetrics("engine")
    _serve_metrics(metrics, engine_settings.metrics_port, engine_settings.metrics_host)
    master_key = engine_settings.signing_key_value(settings.data_dir)
    (settings.data_dir / "engine").mkdir(parents=True, exist_ok=True)
    _run_worker(
        kafka,
        changelog_topics(engine_settings.app_id),
        lambda: create_app(engine_settings, kafka, settings.data_dir, metrics, master_key),
    )


def _serve_metrics(metrics: "ComponentMetrics", port: int, host: str) -> None:
    from prometheus_client import start_http_server

    if port:
        start_http_server(port, host, metrics.registry)


def _run_worker(
    kafka: KafkaSettings, changelogs: list[str], create_app: "Callable[[], faust.App]"
) -> None:
    """Run a faust app as a worker until it stops, its topics and changelogs made first."""
    import faust
    import uvloop

    from runtime.kafka import ensure_topics

    # uvloop for the worker's loop and the one faust's consumer thread makes (through the policy).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(kafka, changelogs=changelogs))
    # Keep Headwater's JSON logging (faust would install its own) and no terminal spinner.
    worker = faust.Worker(
        create_app(), loop=loop, quiet=True, override_logging=False, redirect_stdouts=False
    )
    worker.spinner = None
    worker.execute_from_commandline()


@click.command()
def sink() -> None:
    """Run the ClickHouse sink."""
    import uvicorn

    from sinks.service import create_service

    settings, sink_settings = HeadwaterSettings(), SinkSettings()
    configure_logging(settings.log_level)
    failures: list[BaseException] = []
    server: uvicorn.Server

    def on_failure(error: BaseException) -> None:
        failures.append(error)
        server.should_exit = True

    app = create_service(sink_settings, settings, KafkaSettings(), ClickHouseSettings(), on_failure)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=sink_settings.host,
            port=sink_settings.port,
            loop="uvloop",
            log_config=None,
            access_log=False,
        )
    )
    server.run()
    if failures:
        raise HeadwaterError(f"the sink's consumer loop failed: {failures[0]!r}")
