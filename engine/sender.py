"""Webhook attempts, one task each (the ticker's), outside stream iteration: a slow receiver
never holds a partition, and a retry is a timer, never a sleep.

The ticker (or the agent, for a webhook due at once) hands over a `send` timer; the attempt's
outcome goes back through the log as an `attempted` signal naming the timer, and the agent
applies it (engine/executor.py). A crash before the signal is applied leaves the timer in place,
so the attempt is made again after a restart, with the same delivery id: at least once on the
wire, once in effect at a receiver that dedupes on `webhook-id`.

Stops: right before an attempt begins (a connection slot held), the sender reads the execution
from the store and gives up unless it still waits at that node for this attempt. The check and
the request's start run with no await between them, and the agent applies records on the same
event loop, so a stop the agent has applied is always seen. An attempt that has begun (resolving
the host, connecting, sending) cannot be recalled: a stop applied meanwhile ends the execution,
and nothing after it fires.
"""

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Counter

from engine.retries import RetryPolicy
from engine.state import Execution, Timer, parse_timer_key
from engine.webhooks import AttemptResult, WebhookSender
from runtime.tasks import Lifecycle
from schemas.executions import Outcome, Signal

__all__ = ["Sender"]

log = logging.getLogger(__name__)

ReadExecution = Callable[[int, str], bytes | None]  # partition, execution id
Produce = Callable[[bytes, Signal], Awaitable[None]]


class Sender(Lifecycle):
    def __init__(
        self,
        webhooks: WebhookSender,
        policy: RetryPolicy,
        read_execution: ReadExecution,
        produce: Produce,
        attempts: Counter,
    ) -> None:
        self._webhooks, self._policy = webhooks, policy
        self._read, self._produce = read_execution, produce
        self._attempts = attempts
        self._rng = random.Random()

    async def start(self) -> None:
        await self._webhooks.start()

    async def stop(self) -> None:
        await self._webhooks.stop()

    async def attempt(self, partition: int, timer_key: bytes, timer: Timer) -> bool:
        """One attempt of a `send` timer; True once its outcome is on the log (or the execution
        no longer wants it), False if the outcome could not be recorded (the ticker fires the
        timer again)."""
        due_ms, execution_id, node_id = parse_timer_key(timer_key)
        assert timer.delivery is not None, "a send timer carries its delivery"

        def wanted() -> bool:
            return timer.replay or self._waiting(partition, execution_id, node_id, due_ms, timer)

        result = await self._webhooks.attempt(timer.delivery, wanted)
        if result is None:
            return True
        ended = datetime.now(UTC)
        outcome, retry_at = self._outcome(result, timer.attempt, ended)
        self._attempts.labels(outcome).inc()
        signal = Signal(
            type="attempted", execution_id=execution_id, node_id=node_id, at=ended,
            due_ms=due_ms, attempt=timer.attempt, outcome=outcome, status=result.status,
            error=result.error, retry_at_ms=retry_at,
        )  # fmt: skip
        try:
            await self._produce(timer.key.encode(), signal)
        except Exception:
            log.exception("could not record a webhook attempt", extra={"delivery": node_id})
            return False
        return True

    def _waiting(
        self, partition: int, execution_id: str, node_id: str, due_ms: int, timer: Timer
    ) -> bool:
        """Whether the execution still waits at the node for this very attempt."""
        stored = self._read(partition, execution_id)
        execution = Execution.decode(stored) if stored is not None else None
        node = execution.nodes.get(node_id) if execution is not None else None
        return node is not None and node["due"] == due_ms and node["attempt"] == timer.attempt

    def _outcome(
        self, result: AttemptResult, attempt: int, ended: datetime
    ) -> tuple[Outcome, int | None]:
        if result.status is not None and 200 <= result.status < 300:
            return "delivered", None
        if result.refused or not self._policy.retryable(result.status):
            return "failed", None
        retry_at = self._policy.next_attempt_at(attempt, ended, result.retry_after, self._rng)
        if retry_at is None:
            return "failed", None
        return "retry", int(retry_at.timestamp() * 1000)
