"""Workflows as the gateway stores them, applied to a `Definitions` the way a replica applies
them: for the tests of what events trigger (runtime, processors)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from runtime.definitions import Decision, Definitions
from schemas.workflows import Change, Environment, definition_key

__all__ = ["AT", "TEMPLATE", "apply_workflow", "published_workflow"]

AT = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
TEMPLATE: dict[str, Any] = {
    "nodes": [
        {"id": "start", "type": "Start"},
        {"id": "hook", "type": "Webhook", "url": "https://example.com/hook", "params": "a: 1"},
    ],
    "edges": ["start-hook"],
}


def published_workflow(
    workflow_id: str, event_trigger: str | None = "signup", **fields: Any
) -> dict[str, Any]:
    """A workflow published once (version 1) with `TEMPLATE`; its drafts as published."""
    definition = {
        "template": TEMPLATE, "event_trigger": event_trigger, "stop_event": None,
        "trigger_conditions": {},
    } | {name: fields.pop(name) for name in ("template", "stop_event", "trigger_conditions")
         if name in fields}  # fmt: skip
    return {
        "id": workflow_id, "key": workflow_id, "user_key": "u1", "name": workflow_id,
        "auto_start": True, "template_status": "published", "version": 1,
        "last_published_at": "2026-03-04T10:00:00Z", **definition,
        **{f"{name}_draft": value for name, value in definition.items()},
    } | fields  # fmt: skip


def apply_workflow(
    state: Definitions,
    workflow: dict[str, Any],
    project: str = "p1",
    environment: Environment = "live",
    base: str | None = None,
) -> Decision:
    """Apply a put of `workflow` (a new one, or an edit of the state named `base`)."""
    change = Change(op="put", request_id=str(uuid.uuid4()), base=base, at=AT, object=workflow)
    key = definition_key(project, environment, "workflow", workflow["id"])
    decision = state.apply(key, change.encode())
    assert decision is not None and decision.accepted, decision
    return decision
