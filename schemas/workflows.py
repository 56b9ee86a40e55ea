"""The Embed Workflow API's records: definitions on `headwater.workflows`, commands on
`headwater.workflow-commands`.

Definitions (workflows, users, event triggers, idempotency records) live on a compacted topic
with one partition. Each record is a `Change` to one object, keyed by `definition_key`: the whole
new state of the object (`put`) or its deletion (`delete`). Writers do not decide whether their
change wins: every replica applies the records in offset order with the same rules
(runtime/definitions.py), so two gateway processes racing for one workflow key get one outcome,
the same everywhere. A change says which state it was computed from (`base`, the request id of
that state), which makes concurrent edits of one object detectable instead of silently lost.

Commands are what the workflow engine acts on: the API records trigger, execute and stop, the
processors record `event` (an event that matched a published workflow's trigger or stop event).
A command that starts executions carries each one's `Start`: the published template as it was
when the command was recorded, so later edits never change what an execution runs, and the engine
decides nothing from definitions that may have moved on (a replayed command starts the same
executions, with the same ids). Commands are keyed by project, environment and subject (the API's
user key, or the event's person), so one subject's commands keep their order and the engine's
state for them stays on one partition.
"""

from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "Change",
    "Command",
    "CommandType",
    "Environment",
    "Kind",
    "Start",
    "command_key",
    "definition_key",
    "parse_definition_key",
]

Environment = Literal["test", "live"]
Kind = Literal["workflow", "user", "event_trigger", "idempotency"]


def definition_key(project_id: str, environment: Environment, kind: Kind, name: str) -> bytes:
    """The Kafka key of one object: a JSON array, so no separator can be ambiguous. `name` is
    the workflow's id, the user's key, the trigger's event, or an idempotency record's
    `<path> <Idempotency-Key>`."""
    return orjson.dumps([project_id, environment, kind, name])


def parse_definition_key(key: bytes) -> tuple[str, Environment, Kind, str]:
    project_id, environment, kind, name = orjson.loads(key)
    return project_id, environment, kind, name


def command_key(project_id: str, environment: Environment, subject: str) -> bytes:
    """The key of a command: its project, environment and subject (a user key, or a person)."""
    return orjson.dumps([project_id, environment, subject])


class Change(BaseModel):
    """One write of the Embed Workflow API, as a replica applies it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this record's schema.")
    op: Literal["put", "delete"] = Field(description="`put`: the object's whole new state.")
    request_id: str = Field(
        min_length=1, description="Names this change; the state it makes is known by it."
    )
    base: str | None = Field(
        None,
        description="The request id of the state this change was computed from; None for a "
        "new object (or, for `delete`, whatever the state is).",
    )
    at: AwareDatetime = Field(description="When the gateway made the change (UTC).")
    replaces: str | None = Field(
        None, description="A user archived under this key: the key it is removed from."
    )
    object: dict[str, Any] | None = Field(None, description="`put`: the object's state.")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(exclude_none=True), option=orjson.OPT_UTC_Z)


CommandType = Literal["trigger", "execute", "stop", "event"]


class Start(BaseModel):
    """One execution a command starts: the workflow, and the published definition it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow_id: str = Field(min_length=1)
    version: int = Field(ge=0, description="The published version (0: a never published draft).")
    user_key: str = Field(min_length=1, description="The workflow's owner.")
    template: dict[str, Any] = Field(description="The template run, as it was when recorded.")
    stop_event: str | None = Field(None, description="The event that stops the execution.")


class Command(BaseModel):
    """Something for the workflow engine to do, recorded by the API (`POST /trigger`,
    `POST /workflows/:id/execute`, `POST /executions/stop`) or by the processors (`event`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this record's schema.")
    type: CommandType
    request_id: str = Field(
        min_length=1,
        description="Unique per request (the Idempotency-Key's stored request when one was "
        "sent; for `event`, the event's id): the engine derives execution ids from it, so a "
        "replay starts nothing new.",
    )
    project_id: str = Field(min_length=1)
    environment: Environment
    user_key: str = Field(
        min_length=1, description="The API's user; for `event`, the event's person."
    )
    at: AwareDatetime
    event: str | None = Field(None, description="trigger, event: the event name.")
    all_workflows: bool = Field(False, description="trigger: every workflow of the user.")
    workflow_ids: list[str] = Field(
        default_factory=list,
        description="trigger, execute: the workflows named; event: the workflows whose stop "
        "event this is (the person's executions of them stop).",
    )
    starts: list[Start] = Field(
        default_factory=list, description="trigger, execute, event: the executions to start."
    )
    execution_data: dict[str, Any] = Field(default_factory=dict)
    template: dict[str, Any] | None = Field(
        None, description="execute: the template to run, as it was when the API answered."
    )
    workflow_version: int | None = Field(
        None, description="execute: the published version run (0: a never published draft)."
    )
    stop_event: str | None = Field(None, description="stop: the stop event.")
    filters: dict[str, Any] = Field(default_factory=dict, description="stop: must match.")

    def kafka_key(self) -> bytes:
        return command_key(self.project_id, self.environment, self.user_key)

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(), option=orjson.OPT_UTC_Z)
