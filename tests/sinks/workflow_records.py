"""Records of the Embed Workflow API as the gateway writes them, for the sink's tests: workflow
changes (`put`, `delete`) keyed by `definition_key`, and commands; and the engine's steps."""

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.executions import Step, StepKind
from schemas.workflows import Change, Command, definition_key

__all__ = ["AT", "command", "delete", "put", "step", "workflow"]

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def workflow(workflow_id: str, key: str = "onboarding", **fields: Any) -> dict[str, Any]:
    """A workflow object with the fields the history has columns of."""
    return {
        "id": workflow_id, "key": key, "user_key": "u1", "name": "Onboarding",
        "template_status": "draft", "version": 0, "last_published_at": None,
        "template": {"nodes": [], "edges": []},
    } | fields  # fmt: skip


def put(
    project: str, obj: dict[str, Any], request_id: str, base: str | None = None
) -> tuple[bytes, bytes]:
    """(key, value) of a workflow's new state."""
    change = Change(op="put", request_id=request_id, base=base, at=AT, object=obj)
    return definition_key(project, "test", "workflow", obj["id"]), change.encode()


def delete(
    project: str, workflow_id: str, request_id: str, base: str | None = None
) -> tuple[bytes, bytes]:
    change = Change(op="delete", request_id=request_id, base=base, at=AT)
    return definition_key(project, "test", "workflow", workflow_id), change.encode()


def command(project: str, request_id: str, **fields: Any) -> Command:
    """A trigger unless `fields` say otherwise."""
    defaults: dict[str, Any] = {"type": "trigger", "event": "signed_up"}
    return Command(
        request_id=request_id, project_id=project, environment="test", user_key="u1", at=AT,
        **(defaults | fields),
    )  # fmt: skip


def step(project: str, execution: str, kind: StepKind, second: int, **fields: Any) -> Step:
    """A step of workflow w1 (version 2) at `AT` + `second`, named by what it is (as the engine
    names it: the same step reported again has the same id)."""
    node = fields.get("node_id", "")
    return Step(
        step_id=f"{execution}:{node}:{kind}:{fields.get('attempt', 0)}", execution_id=execution,
        project_id=project, environment="test", workflow_id="w1", version=2, user_key="u1",
        person_id="person-1", kind=kind, at=AT + timedelta(seconds=second), **fields,
    )  # fmt: skip
