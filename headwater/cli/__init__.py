"""The `headwater` command: run the whole pipeline or one component, operate the local stack,
query ClickHouse, handle dead letters and keys.

Each group of commands is a module of this package; this one assembles them.
"""

import sys

import click

from headwater.cli.components import engine, gateway, process, sink, up
from headwater.cli.credentials import keys
from headwater.cli.dead_letters import dlq
from headwater.cli.operations import migrate, settings_, sql, stack, topics
from headwater.cli.webhooks import webhooks
from runtime.errors import HeadwaterError

__all__ = ["cli", "main"]


@click.group()
def cli() -> None:
    """Headwater: vendor event formats over HTTP -> Kafka -> stream processors -> ClickHouse."""


for command in (
    up,
    stack,
    gateway,
    process,
    engine,
    sink,
    sql,
    migrate,
    topics,
    dlq,
    keys,
    webhooks,
    settings_,
):
    cli.add_command(command)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except HeadwaterError as exc:
        click.echo(f"headwater: {exc}", err=True)
        sys.exit(1)
