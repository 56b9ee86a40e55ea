"""The Embed Workflow API's operations in the OpenAPI document, fuzzed by schemathesis against a
real gateway on real Kafka: whatever a client sends, the answer is never a server error.

The fuzzing runs as a project of its own, new each session: the workflows and users it makes
would otherwise show up in what other tests of the `flows` project list (and Kafka keeps them).
An operation on one workflow is pointed at a real one, made for the case: a random id only ever
reaches the 404, and expanding, updating, publishing, executing and cloning come after it.
"""

import uuid
from collections.abc import Iterator

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from gateway.app import OPENAPI_FILE
from gateway.workflows.openapi import TAG
from headwater.keys import create_key
from tests.gateway.workflows.conftest import WorkflowGateways
from tests.helpers import eventually

schema = schemathesis.openapi.from_path(OPENAPI_FILE).include(tag=TAG)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzzing(workflow_gateways: WorkflowGateways) -> Iterator[httpx2.Client]:
    """A client with the secret test key of a new project, once the gateway knows the key."""
    projects = workflow_gateways.data_dir / "projects.json"
    project = f"openapi-fuzzing-{uuid.uuid4().hex[:8]}"
    key = create_key(projects, project, "workflows").splitlines()[1]
    with workflow_gateways.client(key) as client:
        eventually(
            lambda: client.get("/users/main").status_code == 200,
            what="the gateway to load the fuzzing project's key",
        )
        yield client


def _target(case: schemathesis.Case, client: httpx2.Client) -> None:
    """Point the case's `{id}` at a new workflow (by its key when the case says `id_type=key`)."""
    if "id" not in (case.path_parameters or {}):
        return
    created = client.post(
        "/workflows", json={"name": "fuzzed", "key": uuid.uuid4().hex, "event_trigger": "fuzzed"}
    )
    assert created.status_code == 200, created.text
    workflow = created.json()
    by_key = any(isinstance(p, dict) and p.get("id_type") == "key" for p in (case.query, case.body))
    case.path_parameters["id"] = workflow["key"] if by_key else workflow["id"]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(
    case: schemathesis.Case, workflow_gateways: WorkflowGateways, fuzzing: httpx2.Client
) -> None:
    _target(case, fuzzing)
    case.call_and_validate(
        base_url=workflow_gateways.urls[0],
        headers={"Authorization": fuzzing.headers["Authorization"]},
        checks=[not_a_server_error],
        timeout=15,
    )


def test_a_control_character_in_a_parameter_name_is_a_400(fuzzing: httpx2.Client) -> None:
    # Found by the fuzzing: the error's header quoted the name, and the server refused to send it.
    answer = fuzzing.post("/executions/stop", json={"stop_event": "x", "a\x1fb": 1})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"field": "a\x1fb", "reason": "Extra inputs are not permitted"}
    ]
    assert answer.headers["X-Headwater-Error"] == "a b: Extra inputs are not permitted"


def test_an_attribute_named_twice_in_expand_is_expanded_once(fuzzing: httpx2.Client) -> None:
    # Found by the fuzzing: the second pass looked the expanded object up as an event name.
    created = fuzzing.post("/workflows", json={"name": "twice", "event_trigger": "twice"}).json()
    query = {"expand[]": ["event_trigger", "event_trigger"]}
    fetched = fuzzing.get(f"/workflows/{created['id']}", params=query)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["event_trigger"]["event"] == "twice"
