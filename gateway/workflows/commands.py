"""Trigger, execute and stop: commands for the workflow engine, recorded durably.

The API checks what it can (the workflows named exist, the template to run is valid) and
answers only once Kafka has the command (`headwater.workflow-commands`); the engine runs it. Each
command carries the request's id: with an Idempotency-Key it is the key's stored request, so a
retried request records nothing new, and the engine derives its execution ids from it.

A publishable key may only trigger an event (what a page does when a visitor acts, as the
browser trackers send events with public tokens); naming workflows to start needs the secret key.
"""

from typing import Any

from gateway.errors import Forbidden, InvalidPayload, NotFound
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
from gateway.workflows.workflows import Workflows, published_template
from gateway.workflows.writes import now
from schemas.workflows import Command

__all__ = ["Commands"]


class Commands:
    def __init__(self, store: DefinitionStore, workflows: Workflows, users: Users) -> None:
        self._store = store
        self._workflows = workflows
        self._users = users

    async def execute(
        self, caller: Caller, ident: str, params: ExecuteParams, request_id: str
    ) -> dict[str, Any]:
        workflow = self._workflows.find(caller, ident, params).object
        template = published_template(workflow)
        problems = validate_template(template, field="template")
        if problems:
            raise InvalidPayload(problems)
        await self._record(
            caller, workflow["user_key"], request_id, type="execute",
            workflow_ids=[workflow["id"]], execution_data=params.execution_data,
            template=template, workflow_version=workflow["version"],
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
        named = [*ids, *(self._id_of_key(caller, params.user_key, key) for key in keys)]
        for workflow_id in ids:
            self._workflows.find(caller, workflow_id, FetchParams())  # 404 for an unknown id
        await self._record(
            caller, params.user_key, request_id, type="trigger", event=params.event,
            all_workflows=params.all_workflows, workflow_ids=list(dict.fromkeys(named)),
            execution_data=params.execution_data,
        )  # fmt: skip

    async def stop(self, caller: Caller, params: StopParams, request_id: str) -> None:
        await self._record(
            caller, params.user_key, request_id, type="stop", stop_event=params.stop_event,
            filters=params.filters,
        )  # fmt: skip

    def _id_of_key(self, caller: Caller, user: str, key: str) -> str:
        state = self._store.state
        found = state.workflow_id(caller.project.id, caller.environment, user, key)
        if found is None:
            raise NotFound.at("workflow_keys", f"no workflow with the key {key!r}")
        return found

    async def _record(self, caller: Caller, user: str, request_id: str, **fields: Any) -> None:
        await self._users.discover(caller, user)
        command = Command(
            request_id=request_id, project_id=caller.project.id,
            environment=caller.environment, user_key=user, at=now(), **fields,
        )  # fmt: skip
        await self._store.record(command)
