"""The OpenAPI document: kept in sync with the code, and fuzzed by schemathesis against the
running gateway and real Kafka, which must never answer with a server error."""

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from gateway.app import ENDPOINTS, OPENAPI_FILE
from gateway.openapi import render
from tests.gateway.conftest import RunningGateway

schema = schemathesis.openapi.from_path(OPENAPI_FILE)


def test_openapi_file_matches_the_code() -> None:
    # After changing an endpoint or a body model, regenerate with `python -m gateway.openapi`.
    assert OPENAPI_FILE.read_text() == render(ENDPOINTS)


@pytest.mark.integration
@schema.parametrize()
def test_no_server_errors(case: schemathesis.Case, gateway: RunningGateway) -> None:
    headers = {"X-Api-Key": gateway.embeddables_key}
    params = {"token": gateway.usermaven_token}
    case.call_and_validate(
        base_url=gateway.url, headers=headers, params=params, checks=[not_a_server_error]
    )
