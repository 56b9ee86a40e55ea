"""What the engine's live tests share: commands produced to the real broker as the API and the
processors record them, and the receiver we ship (`headwater webhooks receive`), run as users run
it, counting attempts and effects per delivery id."""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from engine.webhooks import project_secret
from schemas import topics
from schemas.workflows import Command, Start
from tests.helpers import eventually, headwater, http_ok, produce_many, stop
from tests.pipeline import ENGINE_SETTINGS
from tests.services import free_port

__all__ = ["Receiver", "hook_template", "receiving", "start_command"]

PROJECT = "engine-tests"


class Receiver:
    """A running receiver: its URL and what it has seen."""

    def __init__(self, url: str) -> None:
        self.url = url

    def deliveries(self) -> dict[str, dict[str, Any]]:
        answer: dict[str, dict[str, Any]] = httpx2.get(f"{self.url}/deliveries", timeout=5).json()
        return answer

    def wait_for(self, count: int, timeout: float = 60) -> dict[str, dict[str, Any]]:
        """The deliveries, once `count` ids have had their effect."""

        def enough() -> dict[str, dict[str, Any]] | None:
            seen = self.deliveries()
            return seen if sum(1 for d in seen.values() if d["effects"]) >= count else None

        return eventually(enough, timeout=timeout, what=f"{count} deliveries at {self.url}")


@contextmanager
def receiving(
    env: dict[str, str], log_dir: Path, script: str = "", port: int = 0, project: str = PROJECT
) -> Iterator[Receiver]:
    """`headwater webhooks receive` on 127.0.0.1 (a free port unless given), verifying with
    `project`'s signing secret."""
    port = port or free_port()
    secret = project_secret(ENGINE_SETTINGS["HEADWATER_ENGINE_SIGNING_KEY"], project)
    args = ["webhooks", "receive", "--port", str(port), "--secret", secret]
    if script:
        args += ["--script", script]
    process = headwater(*args, env=env, log=log_dir / f"receiver-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: http_ok(f"{url}/deliveries"), timeout=20, what="the receiver")
        yield Receiver(url)
    finally:
        stop(process)


def hook_template(url: str, *, delay_s: int = 0, params: str = "n: {{ n }}") -> dict[str, Any]:
    """Start -> (Delay) -> Webhook to `url`."""
    hook = {"id": "hook", "type": "Webhook", "url": url, "params": params}
    if not delay_s:
        return {"nodes": [{"id": "start", "type": "Start"}, hook], "edges": ["start-hook"]}
    delay = {"id": "wait", "type": "Delay", "delay_n": delay_s, "delay_unit": "sec"}
    nodes = [{"id": "start", "type": "Start"}, delay, hook]
    return {"nodes": nodes, "edges": ["start-wait", "wait-hook"]}


def start_command(
    template: dict[str, Any], data: dict[str, Any], *, person: str, request: str | None = None,
    workflow_id: str = "wf-engine-tests", stop_event: str | None = "unsubscribed",
) -> Command:  # fmt: skip
    """An `event` command as the processors record one: the person's event started it."""
    start = Start(workflow_id=workflow_id, version=1, user_key="main", template=template,
                  stop_event=stop_event)  # fmt: skip
    return Command(
        type="event", request_id=request or uuid.uuid4().hex, project_id=PROJECT,
        environment="live", user_key=person, at=datetime.now(UTC), event="signup",
        starts=[start], execution_data=data,
    )  # fmt: skip


def stop_event_command(person: str, workflow_id: str = "wf-engine-tests") -> Command:
    return Command(
        type="event", request_id=uuid.uuid4().hex, project_id=PROJECT, environment="live",
        user_key=person, at=datetime.now(UTC), event="unsubscribed", workflow_ids=[workflow_id],
    )  # fmt: skip


def record(bootstrap: str, commands: Sequence[Command]) -> None:
    produce_many(
        bootstrap, topics.WORKFLOW_COMMANDS, [(c.kafka_key(), c.encode()) for c in commands]
    )
