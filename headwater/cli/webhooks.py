"""`headwater webhooks`: a local receiver for trying workflows out, and signing secrets."""

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import click
import orjson

from headwater.keys import DEV_PROJECT_ID

if TYPE_CHECKING:
    from headwater.receiver import Answer, Receiver

__all__ = ["webhooks"]


@click.group()
def webhooks() -> None:
    """Webhooks as workflows send them: a receiver to try them with, and signing secrets."""


def _script(ctx: click.Context, param: click.Parameter, value: str) -> "list[Answer]":
    from headwater.receiver import parse_script

    try:
        return parse_script(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option("--port", type=int, default=9000, show_default=True, help="Listen port.")
@click.option(
    "--project",
    help="Verify with this project's signing secret, derived as the engine derives it (same"
    f" settings, same key file). Default: {DEV_PROJECT_ID}, unless --secret is given.",
)
@click.option("--secret", help="Verify with this secret (whsec_…), e.g. another host's.")
@click.option(
    "--script",
    default="",
    callback=_script,
    help="Answers for the first verified requests, in order, then normal service: 500 (that"
    " status), 429:2 (with Retry-After: 2), hang:20 (no answer for 20 s). Example: 500,429:2",
)
def receive(
    host: str, port: int, project: str | None, secret: str | None, script: "list[Answer]"
) -> None:
    """Receive webhooks: verify each signature, print each new delivery as one JSON line
    (webhook_id, received_at, body), and answer 204, also to a repeat, which has no effect.
    GET /deliveries shows every delivery's attempts."""
    from standardwebhooks.webhooks import EmptyWebhookSecretError

    from headwater.receiver import Receiver

    if project is not None and secret is not None:
        raise click.UsageError("give --project or --secret, not both")
    try:
        receiver = Receiver(secret or _secret(project or DEV_PROJECT_ID), script, _print)
    except (EmptyWebhookSecretError, ValueError) as exc:  # binascii.Error is a ValueError
        raise click.BadParameter(f"not a whsec_ secret: {exc}", param_hint="--secret") from exc
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it ends
        asyncio.run(_serve(receiver, host, port))


@webhooks.command()
@click.argument("project")
def secret(project: str) -> None:
    """Print PROJECT's signing secret (whsec_…), for receivers to verify webhooks with."""
    click.echo(_secret(project))


def _secret(project: str) -> str:
    from engine.settings import EngineSettings
    from engine.webhooks import project_secret
    from runtime.settings import HeadwaterSettings

    master_key = EngineSettings().signing_key_value(HeadwaterSettings().data_dir)
    return project_secret(master_key, project)


async def _serve(receiver: "Receiver", host: str, port: int) -> None:
    bound = await receiver.start(host, port)
    click.echo(f"receiving webhooks on http://{host}:{bound}/ (Ctrl-C stops)", err=True)
    try:
        await asyncio.Event().wait()
    finally:
        await receiver.stop()


def _print(line: dict[str, Any]) -> None:
    click.echo(orjson.dumps(line).decode())  # flushed: a pipe reader sees each at once
