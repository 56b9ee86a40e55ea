"""The records an execution's steps become: `Step`s for the sink's history tables, and the dead
letter of a webhook that failed its last attempt.

A step's id is a UUIDv5 of what it is (execution, node, kind, attempt), so the same step reported
again after a crash collapses in ClickHouse. A dead letter carries a `resend` signal with the
rendered delivery as its payload, addressed to `headwater.workflow-signals`: `headwater dlq
replay` produces it back there and the engine sends it again, with the same delivery id.
"""

import uuid

from engine.state import Execution, Timer, from_ms, to_ms
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.executions import Signal, Step, StepKind

__all__ = ["History"]

_NAMESPACE = uuid.UUID("0b7e2d55-8a41-4c3e-b0f6-7d1a9c2e4f18")


class History:
    """Appends (topic, key, value) records to `records`."""

    def __init__(self, records: list[tuple[str, bytes, bytes]]) -> None:
        self._records = records

    def step(
        self,
        execution: Execution,
        kind: StepKind,
        at_ms: int,
        node_id: str = "",
        *,
        attempt: int = 0,
        status: int | None = None,
        detail: str = "",
    ) -> None:
        step_id = uuid.uuid5(_NAMESPACE, f"{execution.id}:{node_id}:{kind}:{attempt}")
        step = Step(
            step_id=str(step_id), execution_id=execution.id, project_id=execution.project_id,
            environment=execution.environment, workflow_id=execution.workflow_id,
            version=execution.version, user_key=execution.user_key,
            person_id=execution.person_id, node_id=node_id, kind=kind,
            at=from_ms(at_ms), attempt=attempt, status=status,
            detail=detail,
        )  # fmt: skip
        self._records.append((topics.WORKFLOW_HISTORY, execution.id.encode(), step.encode()))

    def attempt(self, execution: Execution, signal: Signal) -> None:
        detail: str = signal.outcome or ""
        if signal.error:
            detail = f"{detail}: {signal.error}"
        self.step(
            execution, "attempt", to_ms(signal.at), signal.node_id,
            attempt=signal.attempt, status=signal.status, detail=detail,
        )  # fmt: skip

    def dead_letter(self, key: bytes, signal: Signal, timer: Timer) -> None:
        resend = Signal(
            type="resend", execution_id=signal.execution_id, node_id=signal.node_id,
            at=signal.at, delivery=timer.delivery,
        )  # fmt: skip
        why = signal.error or f"HTTP {signal.status}"
        letter = DeadLetter.of_record(
            "webhook_failed", f"attempt {signal.attempt}: {why}", "engine",
            topics.WORKFLOW_SIGNALS, -1, -1, key, resend.encode(),
        )  # fmt: skip
        self._records.append((topics.DEAD_LETTER, key, letter.encode()))
