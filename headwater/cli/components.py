"""`headwater up` and the commands that run one component each: gateway, process, sink.

Settings are read from the environment here, once, and handed to what runs.
"""

import asyncio
import os
import shutil

import click

from gateway.settings import GatewaySettings
from processors.settings import ProcessorSettings
from runtime.errors import HeadwaterError
from runtime.logs import configure_logging
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from sinks.settings import SinkSettings

__all__ = ["gateway", "process", "sink", "up"]


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
    """Run the HTTP gateway (granian: measured faster than uvicorn here, see bench/)."""
    from granian import Granian
    from granian.constants import Interfaces, Loops, SSLProtocols

    given = {"TLS_CERT_FILE": tls_cert, "TLS_KEY_FILE": tls_key}
    os.environ.update({f"HEADWATER_GATEWAY_{k}": v for k, v in given.items() if v is not None})
    settings, common = GatewaySettings(), HeadwaterSettings()
    if settings.workers > 1:  # one /metrics for all workers: prometheus-client's multiprocess mode
        metrics_dir = common.data_dir / "metrics" / "gateway"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    Granian(
        "gateway.asgi:app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop=Loops.uvloop,
        log_level=common.log_level.lower(),  # type: ignore[arg-type]
        log_access=False,
        ssl_cert=settings.tls_cert_file,
        ssl_key=settings.tls_key_file,
        ssl_protocol_min=SSLProtocols.tls12,  # granian's default is 1.3; older clients need 1.2
    ).serve()


@click.command()
def process() -> None:
    """Run a stream-processor worker (faust)."""
    import faust
    import uvloop
    from prometheus_client import start_http_server

    from processors.app import changelog_topics, create_app
    from runtime.kafka import ensure_topics
    from runtime.telemetry import ComponentMetrics

    settings, kafka, processor = HeadwaterSettings(), KafkaSettings(), ProcessorSettings()
    configure_logging(settings.log_level)
    metrics = ComponentMetrics("processors")
    if processor.metrics_port:
        start_http_server(processor.metrics_port, processor.metrics_host, metrics.registry)
    # uvloop for the worker's loop and the one faust's consumer thread makes (through the policy).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(kafka, changelogs=changelog_topics(processor.app_id)))
    (settings.data_dir / "processors").mkdir(parents=True, exist_ok=True)  # faust makes one level
    app = create_app(processor, kafka, settings.data_dir, metrics)
    # Keep Headwater's JSON logging (faust would install its own) and no terminal spinner.
    worker = faust.Worker(
        app, loop=loop, quiet=True, override_logging=False, redirect_stdouts=False
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
