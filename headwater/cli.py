"""The `headwater` command: run the whole pipeline, one component, the local stack, or SQL.

Settings are read from the environment here, once, and handed to what runs.
"""

import asyncio
import os
import shutil
import sys
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
    from pathlib import Path

    from gateway.projects import KeyKind
    from headwater.dlq import LetterFilter
    from headwater.stack import Stack

__all__ = ["main"]


@click.group()
def cli() -> None:
    """Headwater: vendor event formats over HTTP -> Kafka -> stream processors -> ClickHouse."""


@cli.command()
def up() -> None:
    """Run the whole pipeline here (local Kafka and ClickHouse as needed) until Ctrl-C."""
    from headwater.up import run_pipeline

    settings = HeadwaterSettings()
    configure_logging(settings.log_level)
    run_pipeline(settings, KafkaSettings(), ClickHouseSettings(), GatewaySettings(), SinkSettings())


@cli.group()
def stack() -> None:
    """The local infrastructure alone: Kafka, and a ClickHouse server if configured."""


def _stack() -> "Stack":
    from headwater.stack import Stack

    return Stack(HeadwaterSettings(), KafkaSettings(), ClickHouseSettings())


@stack.command("up")
def stack_up() -> None:
    """Start the local services that are not running yet."""
    started = _stack().up()
    click.echo(f"started: {', '.join(started)}" if started else "already running")


@stack.command("down")
def stack_down() -> None:
    """Stop the local services."""
    stopped = _stack().down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
def stack_status() -> None:
    """Show what runs where."""
    for row in _stack().status():
        state = "running" if row.running else "stopped"
        pid = f"pid {row.pid}" if row.pid else ""
        click.echo(f"{row.name:<11} {state:<8} {row.where:<40} {pid}".rstrip())


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command()
@click.argument("query")
def sql(query: str) -> None:
    """Run QUERY against the configured ClickHouse and print a table."""
    from headwater.sql import run_sql

    click.echo(run_sql(query, HeadwaterSettings(), ClickHouseSettings()), nl=False)


@cli.command()
def migrate() -> None:
    """Apply the ClickHouse migrations not applied yet (idempotent; the sink runs it at start)."""
    from headwater.sql import run_migrations

    applied = run_migrations(HeadwaterSettings(), ClickHouseSettings())
    click.echo("applied: " + ", ".join(applied) if applied else "up to date")


@cli.command()
def topics() -> None:
    """Create Headwater's missing topics and the processors' changelogs (partitions and replicas
    from HEADWATER_KAFKA_*, changelog names from HEADWATER_PROCESSORS_APP_ID).

    Every component also does this at start; run it first where the topics should exist before
    anything runs (compose's init service)."""
    from processors.app import changelog_topics
    from runtime.kafka import ensure_topics

    kafka = KafkaSettings()
    changelogs = changelog_topics(ProcessorSettings().app_id)
    created = asyncio.run(ensure_topics(kafka, timeout=120.0, changelogs=changelogs))
    click.echo(
        f"created {', '.join(created)} ({kafka.partitions} partitions, "
        f"replication factor {kafka.replication_factor})"
        if created
        else "every topic exists"
    )


@cli.group()
def dlq() -> None:
    """Dead letters: what could not be processed or stored, and putting it back after a fix."""


def _letter_filter(reason: str | None, stage: str | None, topic: str | None) -> "LetterFilter":
    from headwater.dlq import LetterFilter

    return LetterFilter(reason, stage, topic)


_DLQ_OPTIONS = (
    click.option("--reason", help="Only letters with this reason, e.g. invalid_record."),
    click.option(
        "--stage", help="Only letters set aside by this stage: gateway, processors, sink."
    ),
    click.option("--topic", help="Only letters read from this topic."),
)


def _with_dlq_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_DLQ_OPTIONS):
        command = option(command)
    return command


@dlq.command("list")
@_with_dlq_options
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most this many.")
def dlq_list(reason: str | None, stage: str | None, topic: str | None, limit: int) -> None:
    """List dead letters, oldest first."""
    from headwater.dlq import list_letters

    letters = list_letters(KafkaSettings(), _letter_filter(reason, stage, topic))
    for stored in letters[:limit]:
        letter = stored.letter
        click.echo(
            f"{stored.partition}:{stored.offset:<8} {letter.failed_at:%Y-%m-%d %H:%M:%S} "
            f"{letter.stage:<10} {letter.reason:<26} {letter.where()}  "
            f"{letter.detail.splitlines()[0][:80] if letter.detail else ''}"
        )
    click.echo(
        f"{len(letters)} dead letter(s)" + (f", {limit} shown" if len(letters) > limit else "")
    )


@dlq.command("replay")
@_with_dlq_options
@click.option("--yes", is_flag=True, help="Replay without asking.")
def dlq_replay(reason: str | None, stage: str | None, topic: str | None, yes: bool) -> None:
    """Produce matching letters' payloads back to the topics they came from (gateway letters:
    their elements translated again with the current gateway settings, to headwater.raw)."""
    from headwater.dlq import list_letters, replay_letters

    wanted = _letter_filter(reason, stage, topic)
    if not yes:
        count = len(list_letters(KafkaSettings(), wanted))
        click.confirm(f"replay {count} dead letter(s)?", abort=True)
    done = replay_letters(KafkaSettings(), wanted, GatewaySettings())
    click.echo(f"replayed {len(done.replayed)} dead letter(s)")
    for stored, why in done.refused:
        click.echo(
            f"still invalid: {stored.partition}:{stored.offset} {stored.letter.where()}: {why}"
        )
    if done.refused:
        click.echo(f"{len(done.refused)} dead letter(s) not replayed")


@cli.group()
def keys() -> None:
    """Project credentials in the projects file (secrets are shown once, stored hashed)."""


def _projects_file() -> "Path":
    settings = HeadwaterSettings()
    if settings.projects is not None:
        raise HeadwaterError("projects come from HEADWATER_PROJECTS here; edit that instead")
    return settings.projects_path


@keys.command("create")
@click.argument("project")
@click.option(
    "--kind",
    type=click.Choice(["embeddables", "usermaven", "vemetric"]),
    required=True,
    help="embeddables: an rk_ key; usermaven: API_KEY.SERVER_TOKEN; vemetric: a project token.",
)
def keys_create(project: str, kind: "KeyKind") -> None:
    """Create a key for PROJECT (the project is created if new) and print it once."""
    from headwater.keys import create_key

    click.echo(create_key(_projects_file(), project, kind))


@keys.command("list")
def keys_list() -> None:
    """List every project's keys: public tokens, Usermaven API keys, hash prefixes of secrets."""
    from headwater.keys import list_keys

    for row in list_keys(_projects_file()):
        click.echo(f"{row.project_id:<20} {row.kind:<12} {row.key_id}")


@keys.command("revoke")
@click.argument("project")
@click.argument("key_id")
def keys_revoke(project: str, key_id: str) -> None:
    """Remove the key KEY_ID (as `keys list` shows it) from PROJECT."""
    from headwater.keys import revoke_key

    row = revoke_key(_projects_file(), project, key_id)
    click.echo(f"revoked {row.kind} key {row.key_id} of {row.project_id}")


@cli.command("settings")
def settings_() -> None:
    """Print every setting (env variable, default, meaning) as an env file."""
    from headwater.envfile import render_env_file

    click.echo(render_env_file(), nl=False)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except HeadwaterError as exc:
        click.echo(f"headwater: {exc}", err=True)
        sys.exit(1)
