"""Per-workflow counters: `executions_count` and, per node, entered / succeeded / failed /
waiting (there now: a delay pending, a webhook not yet delivered).

Each partition counts its own executions in the `stats` table; the table's changelog is the
compacted topic `headwater.workflow-stats`, and the gateway sums each partition's latest record
into the workflow object (gateway/workflows/stats.py). Changes are gathered while one record is
handled and written once per workflow at its end, so a record costs one write per workflow it
touched, not one per step.
"""

from collections import defaultdict
from typing import Any, Literal

import orjson

from engine.state import State

__all__ = ["Counter", "StatsDelta"]

Counter = Literal["entered", "succeeded", "failed", "waiting"]


class StatsDelta:
    """The changes one record makes to the counters."""

    def __init__(self) -> None:
        self._executions: defaultdict[str, int] = defaultdict(int)
        self._nodes: defaultdict[str, defaultdict[str, defaultdict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )

    def started(self, workflow_id: str) -> None:
        self._executions[workflow_id] += 1

    def count(self, workflow_id: str, node_id: str, counter: Counter, n: int = 1) -> None:
        self._nodes[workflow_id][node_id][counter] += n

    def apply(self, state: State) -> None:
        for workflow_id in self._executions.keys() | self._nodes.keys():
            key = workflow_id.encode()
            stored = state.get("stats", key)
            stats: dict[str, Any] = (
                orjson.loads(stored) if stored else {"executions_count": 0, "nodes": {}}
            )
            stats["executions_count"] += self._executions.get(workflow_id, 0)
            for node_id, changes in self._nodes.get(workflow_id, {}).items():
                node = stats["nodes"].setdefault(
                    node_id, {"entered": 0, "succeeded": 0, "failed": 0, "waiting": 0}
                )
                for counter, n in changes.items():
                    node[counter] += n
            state.put("stats", key, orjson.dumps(stats))
