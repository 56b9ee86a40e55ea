"""The Embed Workflow API's routes (base path `/api/v1`), each an operation on the definitions.

| method and path                  | operation                       | publishable key |
|----------------------------------|---------------------------------|-----------------|
| POST   /workflows                | create                          | no              |
| GET    /workflows                | list (cursor pagination)        | no              |
| GET    /workflows/:id            | fetch (`id_type`, `user_key`)   | no              |
| PUT    /workflows/:id            | update (and publish)            | no              |
| DELETE /workflows/:id            | delete                          | no              |
| POST   /workflows/:id/execute    | execute                         | no              |
| POST   /workflows/:id/clone      | clone                           | no              |
| POST   /trigger                  | trigger                         | `event` only    |
| POST   /executions/stop          | stop (also POST /executions)    | no              |
| GET, PUT, DELETE /users/:key     | fetch, upsert, archive          | no              |
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.routing import Route

from gateway.projects import ProjectSource
from gateway.settings import GatewaySettings
from gateway.workflows.commands import Commands
from gateway.workflows.http import Call, RequestPath
from gateway.workflows.idempotency import Idempotency
from gateway.workflows.models import (
    EXPANDABLE,
    ExecuteParams,
    FetchParams,
    ListParams,
    StopParams,
    TriggerParams,
    UserParams,
    WorkflowParams,
)
from gateway.workflows.pages import paginate
from gateway.workflows.stats import WorkflowStats
from gateway.workflows.store import DefinitionStore
from gateway.workflows.users import Users
from gateway.workflows.views import event_trigger_object, user_view, workflow_view
from gateway.workflows.workflows import Workflows
from gateway.workflows.writes import Writer

__all__ = ["BASE_PATH", "ROUTES", "RouteSpec", "WorkflowApi"]

BASE_PATH = "/api/v1"


@dataclass(frozen=True)
class RouteSpec:
    """One route: where, which `WorkflowApi` operation with which parameters, and for the
    OpenAPI document (gateway/workflows/openapi.py) its answer's schema and summary."""

    path: str
    method: str
    operation: str
    params: type[BaseModel]
    answer: str
    summary: str
    publishable: bool = False  # a publishable key may call it


ROUTES = (
    RouteSpec("/workflows", "POST", "create", WorkflowParams, "Workflow", "Create a workflow"),
    RouteSpec(
        "/workflows", "GET", "list", ListParams, "WorkflowList", "List workflows, newest first"
    ),
    RouteSpec(
        "/workflows/{id}", "GET", "fetch", FetchParams, "Workflow", "Fetch a workflow by id or key"
    ),
    RouteSpec(
        "/workflows/{id}", "PUT", "update", WorkflowParams, "Workflow",
        "Update (and publish) a workflow",
    ),
    RouteSpec(
        "/workflows/{id}", "DELETE", "delete", FetchParams, "WorkflowDeleted", "Delete a workflow"
    ),
    RouteSpec(
        "/workflows/{id}/execute", "POST", "execute", ExecuteParams, "Workflow",
        "Execute a workflow",
    ),
    RouteSpec(
        "/workflows/{id}/clone", "POST", "clone", FetchParams, "Workflow",
        "Clone a workflow as a draft",
    ),
    RouteSpec(
        "/trigger", "POST", "trigger", TriggerParams, "CommandAccepted",
        "Trigger an event or workflows", publishable=True,
    ),
    RouteSpec(
        "/executions/stop", "POST", "stop", StopParams, "CommandAccepted", "Stop executions"
    ),
    RouteSpec(
        "/executions", "POST", "stop", StopParams, "CommandAccepted",
        "Stop executions (the vendor's client library's path)",
    ),
    RouteSpec(
        "/users/{key}", "GET", "fetch_user", UserParams, "WorkflowUser",
        "Fetch a user (made on first use)",
    ),
    RouteSpec(
        "/users/{key}", "PUT", "upsert_user", UserParams, "WorkflowUser", "Create or update a user"
    ),
    RouteSpec(
        "/users/{key}", "DELETE", "archive_user", UserParams, "WorkflowUser", "Archive a user"
    ),
)  # fmt: skip


class WorkflowApi:
    def __init__(
        self,
        settings: GatewaySettings,
        projects: ProjectSource,
        store: DefinitionStore,
        stats: WorkflowStats,
    ) -> None:
        writer = Writer(store)
        self._store = store
        self._stats = stats
        self._users = Users(writer)
        self._workflows = Workflows(writer, self._users)
        self._commands = Commands(store, self._workflows, self._users)
        idempotency = Idempotency(
            writer, settings.workflows_idempotency_lease_s, settings.workflows_write_wait_s
        )
        self._path = RequestPath(projects, idempotency, settings.max_body_bytes)

    def routes(self) -> list[Route]:
        return [
            Route(
                BASE_PATH + spec.path,
                self._path.handler(getattr(self, spec.operation), spec.params, spec.publishable),
                methods=[spec.method],
            )
            for spec in ROUTES
        ]

    async def create(self, call: Call) -> tuple[int, Any]:
        workflow = await self._workflows.create(call.caller, call.params)
        return 200, self._view(call, workflow)

    async def list(self, call: Call) -> tuple[int, Any]:
        params: ListParams = call.params
        stored = self._store.state.workflows(
            call.caller.project.id, call.caller.environment, params.user_key
        )
        ids = [s.object["id"] for s in stored]
        page, meta = paginate(stored, ids, params.starting_after, params.ending_before)
        items = [self._view(call, s.object, listed=True) for s in page]
        return 200, {"collection": items, "meta": meta}

    async def fetch(self, call: Call) -> tuple[int, Any]:
        stored = self._workflows.find(call.caller, call.path["id"], call.params)
        return 200, self._view(call, stored.object)

    async def update(self, call: Call) -> tuple[int, Any]:
        workflow = await self._workflows.update(
            call.caller, call.path["id"], call.params, set(call.given)
        )
        return 200, self._view(call, workflow)

    async def delete(self, call: Call) -> tuple[int, Any]:
        return 200, {"id": await self._workflows.delete(call.caller, call.path["id"], call.params)}

    async def execute(self, call: Call) -> tuple[int, Any]:
        workflow = await self._commands.execute(
            call.caller, call.path["id"], call.params, call.request_id
        )
        return 200, self._view(call, workflow)

    async def clone(self, call: Call) -> tuple[int, Any]:
        workflow = await self._workflows.clone(call.caller, call.path["id"], call.params)
        return 200, self._view(call, workflow)

    async def trigger(self, call: Call) -> tuple[int, Any]:
        await self._commands.trigger(call.caller, call.params, call.request_id)
        return 200, {}

    async def stop(self, call: Call) -> tuple[int, Any]:
        await self._commands.stop(call.caller, call.params, call.request_id)
        return 200, {}

    async def fetch_user(self, call: Call) -> tuple[int, Any]:
        return 200, user_view(await self._users.fetch(call.caller, call.path["key"]))

    async def upsert_user(self, call: Call) -> tuple[int, Any]:
        user = await self._users.upsert(call.caller, call.path["key"], call.params, set(call.given))
        return 200, user_view(user)

    async def archive_user(self, call: Call) -> tuple[int, Any]:
        return 200, user_view(await self._users.archive(call.caller, call.path["key"]))

    def _view(self, call: Call, workflow: dict[str, Any], listed: bool = False) -> dict[str, Any]:
        expand = tuple(name for name in call.params.expand if name in EXPANDABLE)  # users: none
        caller, triggers = call.caller, {}
        for event in (workflow[name] for name in expand if workflow[name] is not None):
            stored = self._store.state.get(
                caller.project.id, caller.environment, "event_trigger", event
            )
            if stored is not None:
                triggers[event] = event_trigger_object(stored, caller.environment)
        counts = self._stats.counts(workflow["id"])
        return workflow_view(workflow, counts, listed=listed, expand=expand, triggers=triggers)
