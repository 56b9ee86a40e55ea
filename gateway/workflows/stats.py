"""The workflow engine's counters as the workflow object shows them: `executions_count` and, per
node, `stats` (entered, succeeded, failed, waiting).

Each engine partition counts the executions it holds (engine/stats.py) in a table whose changelog
is the compacted `headwater.workflow-stats`: keyed by workflow id, each record is that partition's
whole count for the workflow, and a tombstone forgets it. So a workflow's figures are the sum,
over partitions, of each partition's latest record; a later record of a partition replaces its
earlier one, whichever gateway process reads it, and however often the engine repeats itself.
Every gateway process follows the topic from its beginning (every partition, no consumer group),
like its other replicas.

What `stats` shows: the nodes of the workflow's template (`template`, what new executions run)
that have counts, in the template's order. A node no execution has entered is left out, as the
seed's `"stats": {}` for a workflow with nodes that never ran shows; counts of a node since removed
from the template are left out too (its steps stay in ClickHouse, `workflow_steps`).
`executions_count` counts every execution started, whatever version it ran.
"""

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from runtime.replica import Records, TopicFollower
from runtime.settings import KafkaSettings
from runtime.tasks import Lifecycle
from schemas import topics

__all__ = ["Counts", "NodeCounts", "WorkflowStats", "node_stats", "total"]

log = logging.getLogger(__name__)


class NodeCounts(BaseModel):
    """One node's counters; `waiting`: executions there now (a delay pending, a webhook not yet
    delivered)."""

    model_config = ConfigDict(extra="ignore")

    entered: int = 0
    succeeded: int = 0
    failed: int = 0
    waiting: int = 0


class Counts(BaseModel):
    """A workflow's counters: one partition's record, or their sum."""

    model_config = ConfigDict(extra="ignore")

    executions_count: int = 0
    nodes: dict[str, NodeCounts] = {}


def total(parts: Iterable[Counts]) -> Counts:
    """The sum of the partitions' counts."""
    summed = Counts()
    for part in parts:
        summed.executions_count += part.executions_count
        for node_id, counts in part.nodes.items():
            node = summed.nodes.setdefault(node_id, NodeCounts())
            node.entered += counts.entered
            node.succeeded += counts.succeeded
            node.failed += counts.failed
            node.waiting += counts.waiting
    return summed


def node_stats(counts: Counts, template: dict[str, Any]) -> dict[str, dict[str, int]]:
    """`stats` of a workflow: each node of `template` that has counts."""
    ids = [node.get("id") for node in template.get("nodes") or [] if isinstance(node, dict)]
    return {i: counts.nodes[i].model_dump() for i in ids if i in counts.nodes}


class WorkflowStats(Lifecycle):
    """Each workflow's latest counts per engine partition, following the stats topic."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._latest: dict[str, dict[int, Counts]] = {}
        self._follower = TopicFollower(
            kafka, topics.WORKFLOW_STATS, "headwater-gateway-workflow-stats", self._apply,
            self._forget,
        )  # fmt: skip

    @property
    def ready(self) -> bool:
        return self._follower.ready

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    def counts(self, workflow_id: str) -> Counts:
        """The workflow's figures: the sum over partitions (zeros when none has counted)."""
        return total(self._latest.get(workflow_id, {}).values())

    def _apply(self, records: Records) -> None:
        for record in records:
            if record.key is None:
                continue
            workflow_id = record.key.decode(errors="replace")
            partitions = self._latest.setdefault(workflow_id, {})
            if record.value is None:
                partitions.pop(record.partition, None)
            else:
                self._put(partitions, record.partition, record.value)
            if not partitions:
                del self._latest[workflow_id]

    def _put(self, partitions: dict[int, Counts], partition: int, value: bytes) -> None:
        """Replace the partition's count; a record that is not one is logged and leaves the
        previous count in place, rather than stopping the replica."""
        try:
            partitions[partition] = Counts.model_validate_json(value)
        except ValidationError as exc:
            log.warning(
                "workflow stats: a record that is not a count",
                extra={"partition": partition, "error": str(exc)},
            )

    def _forget(self) -> None:
        self._latest.clear()
