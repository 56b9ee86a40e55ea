"""The API's commands carry what they start, resolved when the request is answered: trigger by
event (published, auto_start, conditions holding), by id or key, every workflow; execute; a stop
on every partition of the commands topic; and trigger conditions validated on writes. Against two
real gateway processes and the real broker."""

import asyncio
import uuid
from typing import Any

import httpx2
import pytest

from schemas import topics
from schemas.workflows import Command
from tests.gateway.workflows.conftest import WorkflowGateways
from tests.kafka import read_to_end, topic_partitions

pytestmark = pytest.mark.integration

TEMPLATE: dict[str, Any] = {
    "nodes": [
        {"id": "start", "type": "Start"},
        {"id": "hook", "type": "Webhook", "url": "https://example.com/hook", "params": "a: 1"},
    ],
    "edges": ["start-hook"],
    "data": {"source": "template"},
}
EDITED = {"nodes": [{"id": "start", "type": "Start"}], "edges": []}


def make(client: httpx2.Client, owner: str, publish: bool = True, **fields: Any) -> dict[str, Any]:
    """A workflow; published, then its draft edited (what runs must stay the published one)."""
    body = {"name": "W", "user_key": owner, "template": TEMPLATE, **fields}
    made = client.post("/workflows", json=body)
    assert made.status_code == 200, made.text
    if not publish:
        return dict(made.json())
    path, scope = f"/workflows/{made.json()['id']}", {"user_key": owner}
    published = client.put(path, json=scope | {"template_status": "published"})
    assert published.status_code == 200, published.text
    assert client.put(path, json=scope | {"template": EDITED}).status_code == 200
    return dict(published.json())


def commands(gateways: WorkflowGateways, owner: str) -> list[Command]:
    records = asyncio.run(read_to_end(gateways.kafka, topics.WORKFLOW_COMMANDS))
    found = [Command.model_validate_json(r.value) for r in records if owner.encode() in r.key]
    return [c for c in found if c.user_key == owner]


def post(client: httpx2.Client, path: str, **body: Any) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 200, answer.text


def test_a_trigger_by_event_starts_what_its_conditions_let_through(
    workflow_gateways: WorkflowGateways,
) -> None:
    owner = f"u-{uuid.uuid4().hex}"
    with workflow_gateways.client() as client:
        pro = make(client, owner, event_trigger="signed_up", stop_event="left",
                   trigger_conditions={"plan": "pro"})  # fmt: skip
        anyone = make(client, owner, event_trigger="signed_up")
        make(client, owner, event_trigger="signed_up", auto_start=False)
        make(client, owner, publish=False, event_trigger="signed_up")
        make(client, owner, event_trigger="logged_in")
        post(client, "/trigger", user_key=owner, event="signed_up", execution_data={"plan": "pro"})
        post(client, "/trigger", user_key=owner, event="signed_up", execution_data={"plan": "x"})
    first, second = commands(workflow_gateways, owner)
    assert {s.workflow_id for s in first.starts} == {pro["id"], anyone["id"]}
    assert [s.workflow_id for s in second.starts] == [anyone["id"]]
    [start] = [s for s in first.starts if s.workflow_id == pro["id"]]
    assert (start.version, start.template, start.stop_event) == (1, TEMPLATE, "left")
    assert start.user_key == owner and first.type == "trigger"


def test_named_and_all_workflows_start_their_published_definitions_each_once(
    workflow_gateways: WorkflowGateways,
) -> None:
    owner = f"u-{uuid.uuid4().hex}"
    with workflow_gateways.client() as client:
        one = make(client, owner, key="one", event_trigger="signed_up")
        two = make(client, owner, key="two", auto_start=False)
        draft = make(client, owner, publish=False, key="draft")
        post(client, "/trigger", user_key=owner, workflow_ids=[one["id"]], workflow_keys="one,two")
        post(client, "/trigger", user_key=owner, all_workflows=True, event="signed_up")
        unpublished = client.post("/trigger", json={"user_key": owner, "workflow_keys": "draft"})
        executed = client.post(f"/workflows/{draft['id']}/execute", json={"user_key": owner})
    by_name, everything, execute = commands(workflow_gateways, owner)
    assert [s.workflow_id for s in by_name.starts] == [one["id"], two["id"]]
    assert by_name.workflow_ids == [one["id"], two["id"]]
    assert sorted(s.workflow_id for s in everything.starts) == sorted([one["id"], two["id"]])
    assert all(s.template == TEMPLATE and s.version == 1 for s in everything.starts)
    assert unpublished.status_code == 422
    [problem] = unpublished.json()["errors"]
    assert (
        problem["field"] == "workflow_keys"
        and "publish it first or use execute" in problem["reason"]
    )
    assert executed.status_code == 200, executed.text
    [start] = execute.starts  # a draft never published runs as version 0
    assert (execute.type, start.workflow_id, start.version) == ("execute", draft["id"], 0)
    assert start.template == TEMPLATE == execute.template


def test_a_stop_is_recorded_on_every_partition_of_the_commands_topic(
    workflow_gateways: WorkflowGateways,
) -> None:
    owner = f"u-{uuid.uuid4().hex}"
    with workflow_gateways.client() as client:
        post(client, "/executions/stop", user_key=owner, stop_event="left")
    records = asyncio.run(read_to_end(workflow_gateways.kafka, topics.WORKFLOW_COMMANDS))
    stops = [r for r in records if owner.encode() in r.key]
    partitions = asyncio.run(topic_partitions(workflow_gateways.kafka, topics.WORKFLOW_COMMANDS))
    assert sorted(r.partition for r in stops) == [tp.partition for tp in partitions]
    assert len({r.value for r in stops}) == 1  # one command, one request id, everywhere


def test_trigger_conditions_are_validated_on_create_and_update(
    workflow_gateways: WorkflowGateways,
) -> None:
    owner = f"u-{uuid.uuid4().hex}"
    wrong = {"all": [{"plan": "pro"}, {"field": "plan", "op": "equals", "value": "pro"}]}
    with workflow_gateways.client() as client:
        created = client.post("/workflows", json={"name": "W", "user_key": owner,
                                                   "trigger_conditions": wrong})  # fmt: skip
        fine = make(client, owner, publish=False, trigger_conditions={"plan": {"in": ["a"]}})
        path = f"/workflows/{fine['id']}"
        updated = client.put(
            path, json={"user_key": owner, "trigger_conditions": {"plan": {"in": 1}}}
        )
    for answer in (created, updated):
        assert answer.status_code == 400, answer.text
    assert created.json()["errors"] == [
        {"field": "trigger_conditions.all[1].op",
         "reason": "unknown operator 'equals'; one of eq, ne, gt, gte, lt, lte, in, not_in, "
                   "contains, starts_with, exists, not_exists"},
    ]  # fmt: skip
    assert updated.json()["errors"] == [
        {"field": "trigger_conditions.plan.in", "reason": "in needs an array"}
    ]
