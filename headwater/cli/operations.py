"""Operator commands: the local stack, SQL and migrations, topics, and the settings file."""

import asyncio
from typing import TYPE_CHECKING

import click

from processors.settings import ProcessorSettings
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings

if TYPE_CHECKING:
    from headwater.stack import Stack

__all__ = ["migrate", "settings_", "sql", "stack", "topics"]


@click.group()
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


@click.command()
@click.argument("query")
def sql(query: str) -> None:
    """Run QUERY against the configured ClickHouse and print a table."""
    from headwater.sql import run_sql

    click.echo(run_sql(query, HeadwaterSettings(), ClickHouseSettings()), nl=False)


@click.command()
def migrate() -> None:
    """Apply the ClickHouse migrations not applied yet (idempotent; the sink runs it at start).

    A ClickHouse server that does not answer yet is tried for two minutes, as `topics` waits for
    Kafka: where it starts beside the server (compose), it waits for it."""
    from headwater.sql import run_migrations

    applied = run_migrations(HeadwaterSettings(), ClickHouseSettings(), wait_s=120.0)
    click.echo("applied: " + ", ".join(applied) if applied else "up to date")


@click.command()
def topics() -> None:
    """Create Headwater's missing topics and the changelogs of the processors and the engine
    (partitions and replicas from HEADWATER_KAFKA_*, changelog names from
    HEADWATER_PROCESSORS_APP_ID and HEADWATER_ENGINE_APP_ID).

    Every component also does this at start; run it first where the topics should exist before
    anything runs (compose's init service)."""
    from engine.app import changelog_topics as engine_changelogs
    from engine.settings import EngineSettings
    from processors.app import changelog_topics
    from runtime.kafka import ensure_topics

    kafka = KafkaSettings()
    changelogs = [
        *changelog_topics(ProcessorSettings().app_id),
        *engine_changelogs(EngineSettings().app_id),
    ]
    created = asyncio.run(ensure_topics(kafka, timeout=120.0, changelogs=changelogs))
    click.echo(
        f"created {', '.join(created)} ({kafka.partitions} partitions, "
        f"replication factor {kafka.replication_factor})"
        if created
        else "every topic exists"
    )


@click.command("settings")
def settings_() -> None:
    """Print every setting (env variable, default, meaning) as an env file."""
    from headwater.envfile import render_env_file

    click.echo(render_env_file(), nl=False)
