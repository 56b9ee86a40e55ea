"""Every request and response example of the seed, sent to a running gateway: the answer has the
documented shape (tests/gateway/workflows/shapes.py), and the values the seed fixes and our
design keeps are asserted too. The examples are fixtures, tests/fixtures/workflows/ (its README
says how each was made valid JSON). Each test scopes its workflows to a user of its own, so the
shared broker's other tests never show up in its lists and the seed's keys stay free."""

import re
import uuid
from collections.abc import Iterator
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from tests.gateway.workflows.conftest import WorkflowGateways
from tests.gateway.workflows.shapes import assert_shape, assert_times, example

pytestmark = pytest.mark.integration

SEED_TEMPLATE = example("template")["template"]


@pytest.fixture
def client(workflow_gateways: WorkflowGateways) -> Iterator[httpx2.Client]:
    with workflow_gateways.client("sk_test") as client:
        yield client


@pytest.fixture
def user_key() -> str:
    return uuid.uuid4().hex


def ok(response: httpx2.Response) -> Any:
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    return response.json()


def create(client: httpx2.Client, user_key: str, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = ok(client.post("/workflows", json=body | {"user_key": user_key}))
    return answer


def form_pairs(value: Any, name: str) -> list[tuple[str, str]]:
    """`value` as bracket-nested form pairs (`template[nodes][0][id]=a`), as Rack reads them."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in form_pairs(v, f"{name}[{k}]")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in form_pairs(v, f"{name}[{i}]")]
    return [(name, str(value))]


def with_nodes(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A template starting at a Start node and running `nodes` one after another."""
    ids = ["start_of_workflow", *(node["id"] for node in nodes)]
    start = {"id": "start_of_workflow", "name": "Start Workflow", "type": "Start"}
    edges = [f"{a}-{b}" for a, b in pairwise(ids)]
    return {"nodes": [start, *nodes], "edges": edges}


def new_user_workflow(client: httpx2.Client, user_key: str, **changes: Any) -> dict[str, Any]:
    """The list, execute and clone examples' workflow: `new_user`, one action (the Delay node
    example: no webhook can be sent if an engine shares the broker)."""
    body = example("new_user_request") | {"template": with_nodes(example("delay_node"))}
    return create(client, user_key, body | changes)


def publish(client: httpx2.Client, workflow_id: str, user_key: str) -> dict[str, Any]:
    body = {"template_status": "published", "user_key": user_key}
    answer: dict[str, Any] = ok(client.put(f"/workflows/{workflow_id}", json=body))
    return answer


def test_the_workflow_object(client: httpx2.Client, user_key: str) -> None:
    created = create(client, user_key, example("workflow_request"))
    answer = ok(client.get(f"/workflows/{created['id']}", params={"user_key": user_key}))
    assert_shape(example("workflow"), answer)
    assert_times(answer)
    assert answer["key"] == "my_first_workflow"
    assert answer["template"] == example("workflow")["template"] == {"nodes": [], "edges": []}
    # The seed shows 3 actions beside an empty template; we count the template's actions.
    assert answer["actions_count"] == 0
    assert answer["template_status"] == "draft"
    assert (answer["stats"], answer["trigger_conditions"]) == ({}, {})


def test_the_template_object(client: httpx2.Client, user_key: str) -> None:
    answer = create(client, user_key, {"name": "Template", "template": SEED_TEMPLATE})
    assert_shape(example("template"), {"template": answer["template"]})
    assert answer["template"] == SEED_TEMPLATE  # width, height and positions round-trip
    assert answer["actions_count"] == 3


@pytest.mark.parametrize("node", ["delay_node", "webhook_node"])
def test_a_node_example_round_trips(client: httpx2.Client, user_key: str, node: str) -> None:
    answer = create(client, user_key, {"name": node, "template": with_nodes(example(node))})
    assert_shape(example(node), answer["template"]["nodes"][1])
    assert answer["template"]["nodes"][1] == example(node)


def test_the_node_examples_are_published(client: httpx2.Client, user_key: str) -> None:
    template = with_nodes(example("delay_node"), example("webhook_node"))
    created = create(client, user_key, {"name": "Nodes", "template": template})
    answer = publish(client, created["id"], user_key)
    assert answer["template_status"] == "published"
    assert answer["template"] == template
    assert answer["template"]["nodes"][1]["minute_of_day"] == 570
    assert answer["actions_count"] == 2
    assert answer["last_published_at"] is not None
    assert_times(answer)


def test_expand_in_a_form_body(client: httpx2.Client, user_key: str) -> None:
    form = {"name": "Form", "user_key": user_key, "event_trigger": "form_submission"}
    answer = ok(client.post("/workflows", data=form | example("expand_request")))
    assert_shape(example("expand"), answer)
    assert answer["event_trigger"]["event"] == "form_submission"


def test_expand_in_a_query(client: httpx2.Client, user_key: str) -> None:
    created = create(client, user_key, {"name": "Query", "event_trigger": "form_submission"})
    assert created["event_trigger"] == "form_submission"  # unexpanded: a string
    params = {"user_key": user_key} | example("expand_request")
    answer = ok(client.get(f"/workflows/{created['id']}", params=params))
    assert_shape(example("expand"), answer)
    assert answer["event_trigger"]["event"] == "form_submission"


def test_create(client: httpx2.Client, user_key: str) -> None:
    answer = create(client, user_key, example("create_request"))
    assert_shape(example("create"), answer)
    assert_times(answer)
    assert answer["key"] == example("create")["key"] == "my_first_workflow"
    assert answer["name"] == "My First Workflow"
    assert answer["template"] == example("create")["template"]
    assert (answer["actions_count"], answer["template_status"]) == (3, "draft")
    assert (answer["auto_start"], answer["executions_count"]) == (True, 0)


def test_create_with_a_form_body(client: httpx2.Client, user_key: str) -> None:
    """The seed's API "accepts form-encoded request bodies": the create example's template sent
    as form pairs comes back as the JSON it stands for, numbers and all."""
    request = example("create_request") | {"user_key": user_key}
    pairs = [pair for name, value in request.items() for pair in form_pairs(value, name)]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = ok(client.post("/workflows", content=urlencode(pairs), headers=headers))
    assert_shape(example("create"), answer)
    assert answer["template"] == example("create")["template"]
    assert (answer["key"], answer["actions_count"]) == ("my_first_workflow", 3)


def test_fetch(client: httpx2.Client, user_key: str) -> None:
    created = create(client, user_key, example("create_request"))
    params = {"id_type": "key", "user_key": user_key}
    answer = ok(client.get("/workflows/my_first_workflow", params=params))
    assert_shape(example("fetch"), answer)
    assert_times(answer)
    assert answer["id"] == created["id"]
    assert answer["template"] == example("fetch")["template"]
    assert (answer["actions_count"], answer["template_status"]) == (3, "draft")
    assert ok(client.get(f"/workflows/{created['id']}")) == answer


def test_update(client: httpx2.Client, user_key: str) -> None:
    created = create(client, user_key, example("workflow_request"))
    body = example("update_request") | {"user_key": user_key}
    answer = ok(client.put(f"/workflows/{created['id']}", json=body))
    assert_shape(example("update"), answer)
    assert_times(answer)
    assert (answer["id"], answer["name"]) == (created["id"], "Updated Name")
    assert answer["actions_count"] == 0
    assert answer["tenant_key"] == user_key  # the seed's "default" is its user's key
    assert ok(client.get(f"/workflows/{created['id']}"))["name"] == "Updated Name"


def test_delete(client: httpx2.Client, user_key: str) -> None:
    created = create(client, user_key, example("create_request"))
    answer = ok(client.delete(f"/workflows/{created['id']}"))
    assert_shape(example("delete"), answer)
    assert answer == {"id": created["id"]}
    assert client.get(f"/workflows/{created['id']}").status_code == 404


def test_list(client: httpx2.Client, user_key: str) -> None:
    created = new_user_workflow(client, user_key)
    publish(client, created["id"], user_key)
    answer = ok(client.get("/workflows", params={"user_key": user_key}))
    assert_shape(example("list"), answer)
    assert_times(answer)
    assert answer["meta"] == {"page_limit": 25, "has_next_page": False, "has_previous_page": False}
    [item] = answer["collection"]
    assert (item["id"], item["key"], item["name"]) == (created["id"], "new_user", "New User")
    assert (item["event_trigger"], item["template_status"]) == ("new_user", "published")
    assert item["actions_count"] == 1
    assert "template" not in item and "stats" not in item


def test_execute(client: httpx2.Client, user_key: str) -> None:
    created = new_user_workflow(client, user_key, name=example("execute")["name"])
    body = example("execute_request") | {"user_key": user_key}
    answer = ok(client.post("/workflows/new_user/execute", json=body))
    assert_shape(example("execute"), answer)
    assert_times(answer)
    assert (answer["id"], answer["key"], answer["name"]) == (created["id"], "new_user", "New User!")
    assert (answer["event_trigger"], answer["template_status"]) == ("new_user", "draft")
    assert answer["actions_count"] == 1


def test_clone(client: httpx2.Client, user_key: str) -> None:
    created = new_user_workflow(client, user_key)
    publish(client, created["id"], user_key)
    answer = ok(client.post(f"/workflows/{created['id']}/clone"))
    assert_shape(example("clone"), answer)
    assert_times(answer)
    assert answer["id"] != created["id"]
    assert re.fullmatch(r"new_user_\d{3}", answer["key"]), answer["key"]
    assert (answer["name"], answer["template_status"]) == ("New User", "draft")
    assert (answer["event_trigger"], answer["actions_count"]) == ("new_user", 1)


def test_trigger(client: httpx2.Client, user_key: str) -> None:
    body = example("trigger_request") | {"user_key": user_key}
    answer = ok(client.post("/trigger", json=body))
    assert_shape(example("trigger"), answer)
    assert answer == {}


def test_trigger_named_workflows(client: httpx2.Client, user_key: str) -> None:
    """The seed's comma-separated `workflow_ids` and `workflow_keys` (of published workflows: a
    draft is run by execute)."""
    first = new_user_workflow(client, user_key)
    second = new_user_workflow(client, user_key, key="onboarding", name="Onboarding")
    for workflow in (first, second):
        publish(client, workflow["id"], user_key)
    named = [
        {"workflow_ids": f"{first['id']},{second['id']}"},
        {"workflow_keys": "new_user,onboarding"},
    ]
    for body in named:
        answer = ok(client.post("/trigger", json=body | {"user_key": user_key}))
        assert answer == example("trigger") == {}


def test_stop(client: httpx2.Client, user_key: str) -> None:
    body = example("stop_request") | {"user_key": user_key}
    answer = ok(client.post("/executions/stop", json=body))
    assert_shape(example("stop"), answer)
    assert answer == {}


def test_the_user_object(client: httpx2.Client) -> None:
    answer = ok(client.get("/users/main"))
    assert_shape(example("user"), answer)
    assert_times(answer)
    assert list(answer) == list(example("user"))  # the seed's keys, in its order
    assert (answer["key"], answer["object"]) == ("main", "user")
    assert "admin" in answer["groups"]


def test_upsert_user(client: httpx2.Client, user_key: str) -> None:
    key = f"user-1-{user_key}"
    answer = ok(client.put(f"/users/{key}", json=example("upsert_user_request")))
    assert_shape(example("upsert_user"), answer)
    assert_times(answer)
    assert (answer["key"], answer["object"], answer["name"]) == (key, "user", "Updated Name")
    assert answer["config"] == example("upsert_user")["config"]
    again = ok(client.put(f"/users/{key}", json={"name": "Renamed"}))  # only what is given
    assert again["config"] == answer["config"] and again["id"] == answer["id"]


def test_fetch_user(client: httpx2.Client, user_key: str) -> None:
    answer = ok(client.get(f"/users/{user_key}"))  # discovered on first use
    assert_shape(example("fetch_user"), answer)
    assert_times(answer)
    assert (answer["key"], answer["object"]) == (user_key, "user")
    assert answer["config"] == example("fetch_user")["config"]
    assert answer["user_data_schema"] == []
    assert ok(client.get(f"/users/{user_key}")) == answer


def test_delete_user(client: httpx2.Client, user_key: str) -> None:
    key = f"user-abc-{user_key}"
    user = ok(client.put(f"/users/{key}", json={"name": "Embed Workflow"}))
    answer = ok(client.delete(f"/users/{key}"))
    assert_shape(example("delete_user"), answer)
    assert_times(answer)
    assert (answer["key"], answer["object"]) == (f"ARCHIVED__{key}", "user")
    assert (answer["id"], answer["name"]) == (user["id"], "Embed Workflow")
    assert ok(client.get(f"/users/ARCHIVED__{key}")) == answer
