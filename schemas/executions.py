"""The workflow engine's own records: signals it sends itself, and the history it reports.

`Signal` (on `headwater.workflow-signals`, keyed like the command that started the execution, so
it reaches the partition holding that execution): a timer came due (`wake`), a webhook attempt
ended (`attempted`), or a dead letter's delivery is put back (`resend`, by `headwater dlq
replay`). The engine changes an execution's state only when it reads a record, so timers and
webhook outcomes go through the log like everything else (engine/app.py).

`Step` (on `headwater.workflow-history`): one thing that happened to an execution, for the sink
to load into ClickHouse (`workflow_executions`, `workflow_steps`). The engine may report a step
twice after a crash; its `step_id` is stable, so the tables collapse repeats.
"""

from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.workflows import Environment

__all__ = ["Delivery", "Outcome", "Signal", "Step", "StepKind"]

Outcome = Literal["delivered", "retry", "failed"]
StepKind = Literal[
    "started", "entered", "waiting", "succeeded", "failed", "attempt", "stopped", "finished"
]


class Delivery(BaseModel):
    """A webhook request as rendered when its node was entered: the same bytes on every attempt
    (only the signature's timestamp is fresh), named by its delivery id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: str = Field(description="Stable per (execution, node): `webhook-id`.")
    project_id: str = Field(description="Whose signing secret signs it.")
    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="The node's header lines.")
    body: str = Field(description="The JSON body, as text.")


class Signal(BaseModel):
    """What the engine tells itself about one execution's node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this record's schema.")
    type: Literal["wake", "attempted", "resend"]
    execution_id: str = Field(min_length=1)
    node_id: str = Field(min_length=1)
    at: AwareDatetime = Field(description="When it was sent.")
    due_ms: int | None = Field(None, description="wake: the due time of the timer (epoch ms).")
    attempt: int = Field(1, ge=1, description="attempted: which attempt ended.")
    outcome: Outcome | None = Field(None, description="attempted: how it ended.")
    status: int | None = Field(None, description="attempted: the HTTP status, if any.")
    error: str | None = Field(None, description="attempted: what went wrong.")
    retry_at_ms: int | None = Field(None, description="attempted, retry: when to try again.")
    delivery: Delivery | None = Field(None, description="resend: the request to send again.")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(exclude_none=True), option=orjson.OPT_UTC_Z)


class Step(BaseModel):
    """One entry of an execution's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this record's schema.")
    step_id: str = Field(description="Stable: a repeat of the same step has the same id.")
    execution_id: str
    project_id: str
    environment: Environment
    workflow_id: str
    version: int
    user_key: str = Field(description="The workflow's owner.")
    person_id: str | None = Field(None, description="The person whose event started it.")
    node_id: str = Field("", description="The node; empty for the execution's own steps.")
    kind: StepKind
    at: AwareDatetime
    attempt: int = Field(0, ge=0, description="attempt: which one.")
    status: int | None = Field(None, description="attempt: the HTTP status, if any.")
    detail: str = Field("", description="failed, attempt, stopped: why, or what came back.")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(), option=orjson.OPT_UTC_Z)
