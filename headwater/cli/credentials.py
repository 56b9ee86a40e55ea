"""`headwater keys`: create, list and revoke project credentials."""

from typing import TYPE_CHECKING

import click

from runtime.errors import HeadwaterError
from runtime.settings import HeadwaterSettings

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.projects import KeyKind

__all__ = ["keys"]


@click.group()
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
    type=click.Choice(["embeddables", "usermaven", "vemetric", "workflows"]),
    required=True,
    help="embeddables: an rk_ key; usermaven: API_KEY.SERVER_TOKEN; vemetric: a project token; "
    "workflows: the Embed Workflow API's pk_test_, sk_test_, pk_live_, sk_live_ keys, one a line.",
)
def keys_create(project: str, kind: "KeyKind") -> None:
    """Create a key for PROJECT (the project is created if new) and print it once; workflows
    keys come as a set of four, each environment's publishable and secret key."""
    from headwater.keys import create_key

    click.echo(create_key(_projects_file(), project, kind))


@keys.command("list")
def keys_list() -> None:
    """List every project's keys: public tokens, Usermaven API keys, hash prefixes of secrets
    (a workflows key followed by which of the four it is: pk_test, sk_test, pk_live, sk_live)."""
    from headwater.keys import list_keys

    for row in list_keys(_projects_file()):
        click.echo(f"{row.project_id:<20} {row.kind:<12} {row.key_id} {row.label}".rstrip())


@keys.command("revoke")
@click.argument("project")
@click.argument("key_id")
def keys_revoke(project: str, key_id: str) -> None:
    """Remove the key KEY_ID (as `keys list` shows it) from PROJECT."""
    from headwater.keys import revoke_key

    row = revoke_key(_projects_file(), project, key_id)
    click.echo(f"revoked {row.kind} key {row.key_id} of {row.project_id}")
