"""Workflows: create, fetch, update, delete, list, clone, execute.

A workflow keeps two of each definition: the published one (`template`, `event_trigger`,
`stop_event`, `trigger_conditions`: what events and executions run) and its draft (`*_draft`).
Creating sets both (nothing runs until the first publish: `last_published_at` is null). An update
changes the draft and makes `template_status` "draft"; an update with
`template_status=published` validates the draft and makes it the published definition, counting a
new `version` (executions name the version they run). Execute runs the published definition, or
the draft of a workflow never published (how one tries a workflow out). Trigger conditions are
checked when given and again when published (runtime/conditions.py): a 400 names the place of
each problem (`trigger_conditions.all[1].op`).
"""

import secrets
from datetime import datetime
from typing import Any

from gateway.errors import Conflict, InvalidPayload, NotFound, Problem
from gateway.workflows.auth import Caller
from gateway.workflows.models import FetchParams, WorkflowParams
from gateway.workflows.template import validate_template
from gateway.workflows.users import Users
from gateway.workflows.writes import Writer, iso, new_id, now
from runtime.conditions import validate_conditions
from runtime.definitions import Stored
from schemas.workflows import Change

__all__ = ["Workflows"]

_DRAFTED = ("template", "event_trigger", "stop_event", "trigger_conditions")
_CLONE_ATTEMPTS = 20


class Workflows:
    def __init__(self, writer: Writer, users: Users) -> None:
        self._writer = writer
        self._users = users

    def find(self, caller: Caller, ident: str, params: FetchParams) -> Stored:
        """The workflow `ident` names (an id, or with `id_type=key` the user's key), or 404."""
        state = self._writer.state
        project, environment = caller.project.id, caller.environment
        if params.id_type == "key":
            found = state.workflow_id(project, environment, params.user_key, ident)
            ident = found or ""
        stored = state.get(project, environment, "workflow", ident) if ident else None
        if stored is None:
            raise NotFound.at(
                "id", f"no workflow {ident or 'with that key'} for this key's environment"
            )
        return stored

    async def create(self, caller: Caller, params: WorkflowParams) -> dict[str, Any]:
        if params.name is None:
            raise InvalidPayload.at("name", "is required")
        _check_draft(params.template, "template")
        _check_conditions(params.trigger_conditions, "trigger_conditions")
        await self._users.discover(caller, params.user_key)
        workflow_id, moment = new_id(), now()
        definition = {
            "template": params.template or {"nodes": [], "edges": []},
            "event_trigger": params.event_trigger,
            "stop_event": params.stop_event,
            "trigger_conditions": params.trigger_conditions or {},
        }
        workflow = {
            "id": workflow_id,
            "key": params.key or self._free_key(caller, params.user_key, _slug(params.name)),
            "user_key": params.user_key,
            "name": params.name,
            "auto_start": True if params.auto_start is None else params.auto_start,
            **_history_from(moment),
            **definition,
            **{f"{name}_draft": value for name, value in definition.items()},
        }
        await self._users.discover_triggers(caller, [params.event_trigger])
        return await self._put_new(caller, workflow, moment)

    async def update(
        self, caller: Caller, ident: str, params: WorkflowParams, given: set[str]
    ) -> dict[str, Any]:
        workflow_id = self.find(caller, ident, params).object["id"]
        _check_draft(params.template, "template")
        _check_conditions(params.trigger_conditions, "trigger_conditions")

        def edit(live: Stored | None) -> Change:
            if live is None:
                raise NotFound.at("id", f"no workflow {workflow_id}")
            return _edited(live, params, given)

        if "event_trigger" in given:
            await self._users.discover_triggers(caller, [params.event_trigger])
        change = await self._writer.write(caller, "workflow", workflow_id, edit)
        assert change is not None and change.object is not None
        return change.object

    async def delete(self, caller: Caller, ident: str, params: FetchParams) -> str:
        workflow_id = self.find(caller, ident, params).object["id"]
        change = Change(op="delete", request_id=new_id(), at=now())
        await self._writer.write(caller, "workflow", workflow_id, lambda _: change)
        return workflow_id

    async def clone(self, caller: Caller, ident: str, params: FetchParams) -> dict[str, Any]:
        """A draft copy with the key suffixed (`new_user_682`); its definitions are the
        original's draft, published and draft alike, and nothing of its history."""
        source = self.find(caller, ident, params).object
        workflow_id, moment = new_id(), now()
        drafts = {name: source[f"{name}_draft"] for name in _DRAFTED}
        workflow = source | {
            "id": workflow_id,
            "key": self._free_key(caller, source["user_key"], source["key"], suffixed=True),
            **_history_from(moment),
            **drafts,
        }
        return await self._put_new(caller, workflow, moment)

    async def _put_new(
        self, caller: Caller, workflow: dict[str, Any], moment: datetime
    ) -> dict[str, Any]:
        change = Change(op="put", request_id=workflow["id"], at=moment, object=workflow)
        await self._writer.write(caller, "workflow", workflow["id"], lambda _: change)
        return workflow

    def _free_key(self, caller: Caller, user: str, wanted: str, suffixed: bool = False) -> str:
        state, scope = self._writer.state, (caller.project.id, caller.environment, user)
        if not suffixed and state.workflow_id(*scope, wanted) is None:
            return wanted
        for attempt in range(_CLONE_ATTEMPTS):
            low = 100 if attempt < _CLONE_ATTEMPTS // 2 else 100_000  # three digits, then six
            candidate = f"{wanted}_{low + secrets.randbelow(9 * low)}"
            if state.workflow_id(*scope, candidate) is None:
                return candidate
        raise Conflict.at("key", f"no free key like {wanted!r}_NNN; give a key")


def _history_from(moment: datetime) -> dict[str, Any]:
    """What a new workflow (created or cloned) starts with: a draft that has never run."""
    return {
        "template_status": "draft",
        "version": 0,
        "executions_count": 0,
        "stats": {},
        "created_at": iso(moment),
        "updated_at": iso(moment),
        "last_published_at": None,
    }


def _edited(live: Stored, params: WorkflowParams, given: set[str]) -> Change:
    workflow = dict(live.object)
    for name in ("name", "key", "auto_start"):
        if name in given and getattr(params, name) is not None:
            workflow[name] = getattr(params, name)
    drafted = [name for name in _DRAFTED if name in given]
    for name in drafted:
        value = getattr(params, name)
        empty: dict[str, Any] = {"nodes": [], "edges": []} if name == "template" else {}
        workflow[f"{name}_draft"] = value if value is not None or name in _NULLABLE else empty
    moment = now()
    if params.template_status == "published":
        _publish(workflow, iso(moment))
    elif drafted or params.template_status == "draft":
        workflow["template_status"] = "draft"
    workflow["updated_at"] = iso(moment)
    return Change(op="put", request_id=new_id(), base=live.request_id, at=moment, object=workflow)


_NULLABLE = ("event_trigger", "stop_event")


def _publish(workflow: dict[str, Any], moment: str) -> None:
    problems = validate_template(workflow["template_draft"], field="template")
    _check_conditions(workflow["trigger_conditions_draft"], "trigger_conditions_draft", problems)
    for name in _DRAFTED:
        workflow[name] = workflow[f"{name}_draft"]
    workflow["template_status"] = "published"
    workflow["last_published_at"] = moment
    workflow["version"] += 1


def _check_draft(template: dict[str, Any] | None, field: str) -> None:
    """A draft may be an unfinished graph, but not malformed: a wrong node or edge cannot wait
    for the publish (and would break every view of the workflow)."""
    if template is None:
        return
    problems = validate_template(template, field=field, draft=True)
    if problems:
        raise InvalidPayload(problems)


def _check_conditions(
    conditions: dict[str, Any] | None, field: str, problems: list[Problem] | None = None
) -> None:
    """A 400 naming every problem of `conditions` (a draft's too: it would only fail later, at
    the publish), after the `problems` found already."""
    wrong = validate_conditions(conditions or {}, field)
    found = [*(problems or []), *(Problem(path, reason) for path, reason in wrong)]
    if found:
        raise InvalidPayload(found)


def _slug(name: str) -> str:
    """The key a workflow gets from its name: `My First Workflow` -> `my_first_workflow`."""
    words = "".join(c if c.isalnum() else " " for c in name.lower()).split()
    return "_".join(words)[:200] or "workflow"
