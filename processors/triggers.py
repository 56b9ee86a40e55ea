"""The chain's trigger step: the workflows each processed event starts or stops
(runtime/triggers.py), over this worker's replica of the definitions.

The index is rebuilt only after the replica accepted a change to a workflow (`WorkflowChanges`
counts them; idempotency records and users, which the API writes far more often, leave it alone),
or after the replica started reading again from the beginning (a new `Definitions`). It is
rebuilt on the first event after a change, never on the replica's own path, so a replay of the
whole topic at start-up costs one build. Until the replica has read the topic to its end, the
chain waits: an event matched against half the definitions would miss its workflows.

A tombstone on a workflow's key (the API never writes one: it deletes with a `delete` change) is
not a decision; the index sees it with the next change to any workflow.
"""

import asyncio
from typing import Protocol

from prometheus_client import Counter

from runtime.definitions import Decision, Definitions
from runtime.telemetry import ComponentMetrics
from runtime.triggers import TriggerIndex
from schemas import topics
from schemas.event import Event
from schemas.workflows import Command, parse_definition_key

__all__ = ["DefinitionSource", "WorkflowChanges", "WorkflowTriggers"]

_READY_POLL_S = 0.05


class DefinitionSource(Protocol):
    """What the step reads of a replica (runtime/definition_replica.py)."""

    @property
    def state(self) -> Definitions: ...

    @property
    def ready(self) -> bool: ...


class WorkflowChanges:
    """Counts the changes to workflows a replica accepts: `DefinitionReplica(on_decision=saw)`."""

    def __init__(self) -> None:
        self.count = 0

    def saw(self, decision: Decision) -> None:
        if decision.accepted and parse_definition_key(decision.key)[2] == "workflow":
            self.count += 1


class WorkflowTriggers:
    """The command (if any) each event makes, from an index kept in step with the replica."""

    def __init__(
        self, source: DefinitionSource, changes: WorkflowChanges, metrics: ComponentMetrics
    ) -> None:
        self._source = source
        self._changes = changes
        self._state = source.state  # what the index was built from, and after how many changes
        self._count = changes.count
        self._index = TriggerIndex(self._state)
        self._component = metrics.component
        self._commands = Counter(
            "headwater_workflow_commands",
            "Commands for the workflow engine, by type (`event`: an event that starts or stops).",
            ("component", "topic", "partition", "type"),
            registry=metrics.registry,
        )
        self._matched = Counter(
            "headwater_workflow_matches",
            "Workflows events matched: `start` (trigger and conditions) or `stop` (stop event).",
            ("component", "topic", "partition", "match"),
            registry=metrics.registry,
        )

    @property
    def ready(self) -> bool:
        """The replica has read the definitions to the end."""
        return self._source.ready

    async def caught_up(self) -> None:
        while not self._source.ready:
            await asyncio.sleep(_READY_POLL_S)

    def commands_for(self, event: Event) -> Command | None:
        if self._source.state is not self._state or self._changes.count != self._count:
            self._state, self._count = self._source.state, self._changes.count
            self._index = TriggerIndex(self._state)
        return self._index.commands_for(event)

    def count(self, command: Command, partition: int) -> None:
        where = (self._component, topics.WORKFLOW_COMMANDS, str(partition))
        self._commands.labels(*where, command.type).inc()
        if command.starts:
            self._matched.labels(*where, "start").inc(len(command.starts))
        if command.workflow_ids:
            self._matched.labels(*where, "stop").inc(len(command.workflow_ids))
