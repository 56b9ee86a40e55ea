"""`headwater dlq`: list dead letters and replay them after a fix."""

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from gateway.settings import GatewaySettings
from runtime.settings import KafkaSettings

if TYPE_CHECKING:
    from headwater.dlq import LetterFilter

__all__ = ["dlq"]


@click.group()
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
