"""Trigger, execute and stop: commands for the workflow engine, recorded durably.

The API checks what it can (the workflows named exist, the template to run is valid) and
answers only once Kafka has the command (`headwater.workflow-commands`); the engine runs it. Each
command carries the request's id: with an Idempotency-Key it is the key's stored request, so a
retried request records nothing new, and the engine derives its execution ids from it.

A command that starts executions carries each one's `Start`, resolved here from this process's
replica when the request is answered: the workflow and the published definition it runs. So the
engine never decides from definitions that moved on, and an edit after the answer changes
nothing the request started. What `POST /trigger` starts (each workflow once):
- `event`: the user's published workflows in the key's environment with `auto_start`, that event
  as their trigger, and conditions that hold on `{name: event, properties: execution_data}`;
- `workflow_ids`, `workflow_keys`: those workflows' published definitions; one never published is
  a 422 (execute runs a draft);
- `all_workflows`: every published workflow of the user.
Execute starts the workflow's published definition, or the draft of one never published.

A publishable key may only trigger an event (what a page does when a visitor acts, as the
browser trackers send events with public tokens); naming workflows to start needs the secret key.
"""

from typing import Any

from gateway.errors import Forbidden, GatewayError, InvalidPayload, NotFound
from gateway.workflows.auth import Caller
from gateway.workflows.models import (
    ExecuteParams,
    FetchParams,
    StopParams,
    TriggerParams,
    split_list,
)
from gateway.workflows.store import DefinitionStore
from gateway.workflows.template import validate_template
from gateway.workflows.users import Users
from gateway.workflows.workflows import Workflows
from gateway.workflows.writes import now
from runtime.conditions import Subject
from runtime.triggers import start_of, trigger_of
from schemas.workflows import Command, Start

__all__ = ["Commands", "NotPublished"]


class NotPublished(GatewayError, status=422, code="NOT_PUBLISHED"):
    """`POST /trigger` named a workflow that has no published version."""


class Commands:
    def __init__(self, store: DefinitionStore, workflows: Workflows, users: Users) -> None:
        self._store = store
        self._workflows = workflows
        self._users = users

    async def execute(
        self, caller: Caller, ident: str, params: ExecuteParams, request_id: str
    ) -> dict[str, Any]:
        workflow = self._workflows.find(caller, ident, params).object
        start = start_of(workflow)
        problems = validate_template(start.template, field="template")
        if problems:
            raise InvalidPayload(problems)
        await self._record(
            caller, workflow["user_key"], request_id, type="execute",
            workflow_ids=[workflow["id"]], execution_data=params.execution_data,
            template=start.template, workflow_version=start.version, starts=[start],
        )  # fmt: skip
        return workflow

    async def trigger(self, caller: Caller, params: TriggerParams, request_id: str) -> None:
        ids, keys = split_list(params.workflow_ids), split_list(params.workflow_keys)
        targeted = params.all_workflows or ids or keys
        if caller.publishable and targeted:
            raise Forbidden.at(
                "Authorization",
                "starting workflows by id, key or all_workflows needs a secret key; "
                "publishable keys may only trigger events",
            )
        if params.event is None and not targeted:
            raise InvalidPayload.at(
                "event", "name an event, workflow_ids, workflow_keys or all_workflows"
            )
        named = [
            *(("workflow_ids", self._workflows.find(caller, i, FetchParams()).object) for i in ids),
            *(("workflow_keys", self._keyed(caller, params.user_key, key)) for key in keys),
        ]
        starts = self._starts(caller, params, named)
        await self._record(
            caller, params.user_key, request_id, type="trigger", event=params.event,
            all_workflows=params.all_workflows, starts=starts,
            workflow_ids=list(dict.fromkeys(workflow["id"] for _, workflow in named)),
            execution_data=params.execution_data,
        )  # fmt: skip

    async def stop(self, caller: Caller, params: StopParams, request_id: str) -> None:
        await self._record(
            caller, params.user_key, request_id, type="stop", stop_event=params.stop_event,
            filters=params.filters,
        )  # fmt: skip

    def _starts(
        self, caller: Caller, params: TriggerParams, named: list[tuple[str, dict[str, Any]]]
    ) -> list[Start]:
        """What the trigger starts: by event, by name, every workflow; each workflow once."""
        state = self._store.state
        mine = [s.object for s in state.workflows(caller.project.id, caller.environment,
                                                  params.user_key)]  # fmt: skip
        starts: dict[str, Start] = {}
        if params.event is not None:
            subject = Subject(params.event, params.execution_data)
            for workflow in mine:
                trigger = trigger_of(workflow)
                if trigger is not None and trigger.event == params.event and trigger.holds(subject):
                    starts.setdefault(workflow["id"], trigger.start)
        for field, workflow in named:
            if workflow["last_published_at"] is None:
                raise NotPublished.at(
                    field,
                    f"workflow {workflow['id']} ({workflow['key']}) has never been published: "
                    "publish it first or use execute",
                )
            starts.setdefault(workflow["id"], start_of(workflow))
        for workflow in mine if params.all_workflows else ():
            if workflow["last_published_at"] is not None:
                starts.setdefault(workflow["id"], start_of(workflow))
        return list(starts.values())

    def _keyed(self, caller: Caller, user: str, key: str) -> dict[str, Any]:
        state = self._store.state
        project, environment = caller.project.id, caller.environment
        found = state.workflow_id(project, environment, user, key)
        stored = None if found is None else state.get(project, environment, "workflow", found)
        if stored is None:
            raise NotFound.at("workflow_keys", f"no workflow with the key {key!r}")
        return stored.object

    async def _record(self, caller: Caller, user: str, request_id: str, **fields: Any) -> None:
        await self._users.discover(caller, user)
        command = Command(
            request_id=request_id, project_id=caller.project.id,
            environment=caller.environment, user_key=user, at=now(), **fields,
        )  # fmt: skip
        await self._store.record(command, every_partition=command.type == "stop")
