"""The OpenAPI document: kept in sync with the code, and fuzzed by schemathesis against the
running gateway and real Kafka, which must never answer with a server error.

The ingest endpoints are fuzzed here; the Embed Workflow API's operations (tag `workflows`, some
of them under `/api/v1` like Usermaven's) need its keys and gateways, and are fuzzed in
tests/gateway/workflows/test_openapi_live.py.
"""

import json
from typing import Any, cast

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from gateway.app import ENDPOINTS, OPENAPI_FILE
from gateway.openapi import render
from gateway.settings import GatewaySettings
from gateway.workflows.api import WorkflowApi
from gateway.workflows.openapi import TAG
from tests.gateway.conftest import RunningGateway

schema = schemathesis.openapi.from_path(OPENAPI_FILE).exclude(tag=TAG)


def test_openapi_file_matches_the_code() -> None:
    # After changing an endpoint or a body model, regenerate with `python -m gateway.openapi`.
    assert OPENAPI_FILE.read_text() == render(ENDPOINTS)


def test_every_workflow_route_is_documented() -> None:
    unused = cast(Any, None)  # routes only: no projects, store or stats
    api = WorkflowApi(GatewaySettings(), unused, unused, unused)
    routes = {(r.path, m.lower()) for r in api.routes() for m in r.methods or () if m != "HEAD"}
    paths = json.loads(OPENAPI_FILE.read_text())["paths"]
    documented = {
        (path, method)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if TAG in operation.get("tags", ())
    }
    assert documented == routes


@pytest.mark.integration
@schema.parametrize()
def test_no_server_errors(case: schemathesis.Case, gateway: RunningGateway) -> None:
    headers = {"X-Api-Key": gateway.embeddables_key}
    params = {"token": gateway.usermaven_token}
    case.call_and_validate(
        base_url=gateway.url, headers=headers, params=params, checks=[not_a_server_error]
    )
