"""Workflow versions, commands and execution steps as columnar rows, in the order of their
columns."""

import orjson
import pytest
from pydantic import ValidationError

from schemas import topics
from schemas.workflows import Start
from sinks.base import Source
from sinks.clickhouse.rows import (
    COMMAND_COLUMNS,
    STEP_COLUMNS,
    VERSION_COLUMNS,
    command_rows,
    decode_row,
    step_rows,
    version_rows,
)
from sinks.workflows import WorkflowReplay
from tests.sinks.workflow_records import AT, command, put, step, workflow


def test_a_version_is_a_row_of_its_columns_and_its_object_as_json() -> None:
    obj = workflow("w1", template_status="published", version=2,
                   last_published_at="2024-04-30T10:00:00Z")  # fmt: skip
    key, value = put("p", obj, "r2", base="r1")
    version = WorkflowReplay().decide(Source(0, key, value))
    assert version is not None
    [row] = version_rows([version])
    fields = dict(zip(VERSION_COLUMNS, row, strict=True))
    assert fields["workflow_id"] == "w1" and fields["request_id"] == "r2"
    assert fields["base"] == "r1" and fields["at"] == AT and fields["deleted"] is False
    assert (fields["key"], fields["user_key"], fields["name"]) == ("onboarding", "u1", "Onboarding")
    assert (fields["template_status"], fields["version"]) == ("published", 2)
    assert fields["last_published_at"].isoformat() == "2024-04-30T10:00:00+00:00"
    assert orjson.loads(fields["definition"]) == obj


def test_a_command_is_decoded_and_becomes_a_row_with_its_inputs_as_json() -> None:
    sent = command("p", "c1", type="execute", event=None, workflow_ids=["w1"],
                   workflow_version=3, execution_data={"plan": "pro"})  # fmt: skip
    decoded = decode_row(topics.WORKFLOW_COMMANDS, Source(0, sent.kafka_key(), sent.encode()))
    assert decoded == sent
    [row] = command_rows([decoded])
    fields = dict(zip(COMMAND_COLUMNS, row, strict=True))
    assert (fields["type"], fields["request_id"], fields["project_id"]) == ("execute", "c1", "p")
    assert fields["workflow_ids"] == ["w1"] and fields["workflow_version"] == 3
    assert fields["event"] is None and fields["all_workflows"] is False
    assert orjson.loads(fields["execution_data"]) == {"plan": "pro"}
    assert orjson.loads(fields["filters"]) == {} and fields["starts"] == []


def test_the_executions_a_command_starts_are_named_by_workflow_and_version() -> None:
    starts = [Start(workflow_id=w, version=v, user_key="u1", template={}) for w, v in [("w1", 2),
              ("w2", 0)]]  # fmt: skip
    [row] = command_rows([command("p", "c1", type="event", starts=starts)])
    assert dict(zip(COMMAND_COLUMNS, row, strict=True))["starts"] == ["w1:2", "w2:0"]


def test_a_step_is_decoded_and_becomes_a_row_of_all_its_fields() -> None:
    sent = step("p", "e1", "attempt", 3, node_id="n1", attempt=2, status=503, detail="retry")
    decoded = decode_row(topics.WORKFLOW_HISTORY, Source(0, b"e1", sent.encode()))
    assert decoded == sent
    [row] = step_rows([decoded])
    fields = dict(zip(STEP_COLUMNS, row, strict=True))
    assert set(STEP_COLUMNS) == set(sent.model_dump()) - {"schema_version"}
    assert fields == sent.model_dump(exclude={"schema_version"})


def test_a_record_that_is_not_a_step_cannot_become_a_row() -> None:
    with pytest.raises(ValidationError):
        decode_row(topics.WORKFLOW_HISTORY, Source(0, b"e1", b'{"kind": "teleported"}'))


def test_a_record_that_is_not_a_command_cannot_become_a_row() -> None:
    with pytest.raises(ValidationError):
        decode_row(topics.WORKFLOW_COMMANDS, Source(0, b"k", b'{"type": "launch"}'))
