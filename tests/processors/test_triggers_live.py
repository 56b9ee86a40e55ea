"""From a workflow published through a real gateway to the engine's command, through a real
processors worker on the real broker: the event that matches makes an `event` command on
headwater.workflow-commands carrying the published template (not the draft edited since), keyed
by its person; a stop event names the workflow it stops; an event whose conditions fail, and the
test environment's workflows, start nothing."""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from aiokafka import ConsumerRecord

from headwater.keys import create_key
from schemas import topics
from schemas.event import Event, encode
from schemas.workflows import Command, Start
from tests.factories import make_event
from tests.gateway.conftest import start_gateway
from tests.helpers import (
    environment,
    headwater,
    produce,
    read_topic_until,
    start_group_at_end,
    stop,
)
from tests.kafka import read_to_end

pytestmark = pytest.mark.integration

# A Delay, no Webhook: an engine sharing the broker may run what this test starts.
TEMPLATE: dict[str, Any] = {
    "nodes": [
        {"id": "start", "type": "Start"},
        {"id": "wait", "type": "Delay", "delay_n": 2, "delay_unit": "day"},
    ],
    "edges": ["start-wait"],
}
EDITED: dict[str, Any] = {"nodes": [{"id": "start", "type": "Start"}], "edges": []}


def published(client: httpx2.Client, **fields: Any) -> dict[str, Any]:
    """A workflow published with TEMPLATE, its draft edited afterwards."""
    made = client.post("/workflows", json={"name": "W", "template": TEMPLATE, **fields})
    assert made.status_code == 200, made.text
    path = f"/workflows/{made.json()['id']}"
    answer = client.put(path, json={"template_status": "published"})
    assert answer.status_code == 200, answer.text
    assert client.put(path, json={"template": EDITED}).status_code == 200
    return dict(answer.json())


@pytest.fixture
def project(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """A project whose live workflow is published (and a test one like it), through a gateway
    that is gone before the worker starts: the worker reads the definitions from Kafka."""
    project_id = f"triggers-{uuid.uuid4().hex[:8]}"
    names = ("pk_test", "sk_test", "pk_live", "sk_live")
    credentials = create_key(tmp_path / "projects.json", project_id, "workflows").splitlines()
    keys = dict(zip(names, credentials, strict=True))
    gateway, url = start_gateway(kafka_bootstrap, tmp_path, "gateway")
    try:
        workflows = {}
        for environment_name in ("live", "test"):
            token = {"Authorization": f"Bearer {keys[f'sk_{environment_name}']}"}
            with httpx2.Client(base_url=f"{url}/api/v1", headers=token, timeout=15) as client:
                workflows[environment_name] = published(
                    client, event_trigger="upgraded", stop_event="cancelled",
                    trigger_conditions={"properties.plan": "pro"},
                )  # fmt: skip
    finally:
        stop(gateway)
    yield project_id, workflows["live"]


def carries(event: Event) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    return lambda record: event.event_id.encode() in (record.value or b"")


def command_for(kafka: str, event: Event) -> Command:
    record = read_topic_until(kafka, topics.WORKFLOW_COMMANDS, carries(event), timeout=120)
    command = Command.model_validate_json(record.value or b"")
    assert record.key == command.kafka_key()
    return command


def test_events_through_the_processors_become_commands_with_the_published_snapshot(
    kafka_bootstrap: str, tmp_path: Path, project: tuple[str, dict[str, Any]]
) -> None:
    project_id, workflow = project
    app_id = f"test-triggers-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka_bootstrap, app_id, topics.RAW)
    env = environment({
        "KAFKA_BOOTSTRAP": kafka_bootstrap, "HEADWATER_DATA_DIR": str(tmp_path / "worker"),
        "HEADWATER_PROCESSORS_APP_ID": app_id, "HEADWATER_PROCESSORS_METRICS_PORT": "0",
    })  # fmt: skip
    worker = headwater("process", env=env, log=tmp_path / "process.log")

    def event(name: str, user: str, plan: str) -> Event:
        return make_event(event_id=uuid.uuid4().hex, project_id=project_id, name=name,
                          user_id=user, properties={"plan": plan})  # fmt: skip

    matching, failing = event("upgraded", "ann", "pro"), event("upgraded", "bob", "free")
    stopping = event("cancelled", "ann", "pro")
    try:
        for sent in (matching, failing, stopping):
            produce(kafka_bootstrap, topics.RAW, sent.kafka_key(), encode(sent))
        started = command_for(kafka_bootstrap, matching)
        stopped = command_for(kafka_bootstrap, stopping)
        read_topic_until(kafka_bootstrap, topics.EVENTS, carries(failing), timeout=60)
        time.sleep(2)  # a command of the failing event would be there by now
    finally:
        stop(worker)
    assert started.starts == [
        Start(workflow_id=workflow["id"], version=1, user_key="main", template=TEMPLATE,
              stop_event="cancelled")
    ]  # fmt: skip
    assert (started.type, started.environment, started.user_key) == ("event", "live", "ann")
    assert started.execution_data["event"]["properties"] == {"plan": "pro"}
    assert (stopped.starts, stopped.workflow_ids, stopped.user_key) == ([], [workflow["id"]], "ann")
    commands = asyncio.run(read_to_end(kafka_bootstrap, topics.WORKFLOW_COMMANDS))
    assert not [record for record in commands if carries(failing)(record)]
