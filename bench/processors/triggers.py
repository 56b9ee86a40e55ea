"""What the chain's trigger step costs an event that starts nothing, two ways:

- the worker: throughput runs with no workflow in the workload's project, and runs with
  `--workflows` published `live` ones in it (each with a condition and a stop event, on event
  names the workload never sends: every event finds its project in the index and misses on its
  name, the dearer miss). Worker CPU per input record, median of the runs. It is the whole
  worker's CPU over a run, so it carries the run-to-run noise of a shared 2-core machine, a few
  µs: more than the step itself;
- the step alone: `WorkflowTriggers.commands_for` (as the chain calls it) in this process, timed
  as CPU time per call (best of `STEP_REPEATS` passes, the loop included; the same loop calling a
  function that does nothing is reported beside it), over `HOT_EVENTS` of the workload's events
  called in turn: in the chain the event was just made, so it is in the CPU's cache (over 50,000
  distinct events every call would also pay cache misses the chain does not).

The workflows are written to `headwater.workflows` as the gateway writes them, before the worker
starts (it reads the definitions to their end before it takes an event), and deleted afterwards
(a `delete` change, then a tombstone, as the gateway's sweep does), so the topic keeps nothing.
"""

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.kafka import Record
from processors.triggers import WorkflowChanges, WorkflowTriggers
from runtime.definitions import Definitions
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.event import Event, decode
from schemas.workflows import Change, definition_key

__all__ = [
    "HOT_EVENTS",
    "STEP_REPEATS",
    "call_floor_ns",
    "published_workflows",
    "step_ns_per_event",
]

STEP_REPEATS = 5
HOT_EVENTS = 100
_TEMPLATE = {"nodes": [{"id": "start", "type": "Start"}], "edges": []}


def _workflow(index: int, at: str) -> dict[str, Any]:
    definition = {
        "template": _TEMPLATE, "event_trigger": f"bench-never-sent-{index}",
        "stop_event": f"bench-never-stopped-{index}",
        "trigger_conditions": {"properties.plan": {"in": ["pro", "team"]}},
    }  # fmt: skip
    return {
        "id": str(uuid.uuid4()), "key": f"bench-{index}", "user_key": f"user-{index % 10}",
        "name": f"bench {index}", "auto_start": True, "template_status": "published",
        "version": 1, "last_published_at": at, **definition,
        **{f"{name}_draft": value for name, value in definition.items()},
    }  # fmt: skip


def _changes(project_id: str, count: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of `count` published workflows of `project_id`, as the gateway writes them."""
    at = datetime.now(UTC)
    records = []
    for index in range(count):
        workflow = _workflow(index, at.isoformat())
        change = Change(op="put", request_id=workflow["id"], at=at, object=workflow)
        key = definition_key(project_id, "live", "workflow", workflow["id"])
        records.append((key, change.encode()))
    return records


@asynccontextmanager
async def published_workflows(bootstrap: str, project_id: str, count: int) -> AsyncIterator[None]:
    """`count` workflows published in `project_id` for the block, deleted after it."""
    if count == 0:
        yield
        return
    records = _changes(project_id, count)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await _send(producer, records)
        yield
    finally:
        deleted = Change(op="delete", request_id=str(uuid.uuid4()), at=datetime.now(UTC))
        await _send(producer, [(key, deleted.encode()) for key, _ in records])
        await _send(producer, [(key, None) for key, _ in records])
        await producer.stop()


async def _send(producer: AIOKafkaProducer, records: Sequence[tuple[bytes, bytes | None]]) -> None:
    sent = [await producer.send(topics.WORKFLOWS, value, key=key) for key, value in records]
    for delivery in sent:
        await delivery


@dataclass
class _Replica:
    state: Definitions = field(default_factory=Definitions)
    ready: bool = True


def step_ns_per_event(project_id: str, records: list[Record], workflows: int) -> float:
    """CPU ns per event of the trigger step over `records`, with `workflows` published ones."""
    replica = _Replica()
    for key, value in _changes(project_id, workflows):
        replica.state.apply(key, value)
    triggers = WorkflowTriggers(replica, WorkflowChanges(), ComponentMetrics("bench"))
    events = _hot(records)
    assert all(triggers.commands_for(event) is None for event in events), "the workload matched"
    return _best_ns(triggers.commands_for, events)


def call_floor_ns(records: list[Record]) -> float:
    """The same loop calling a function that does nothing: what of the step's figure is the
    timing loop's own."""
    return _best_ns(_nothing, _hot(records))


def _hot(records: list[Record]) -> list[Event]:
    """As many calls as records, on `HOT_EVENTS` distinct events."""
    sample = [decode(record.value) for record in records[:HOT_EVENTS]]
    return sample * (len(records) // len(sample))


def _nothing(event: Event) -> None:
    return None


def _best_ns(call: Callable[[Event], object], events: list[Event]) -> float:
    best = float("inf")
    for _ in range(STEP_REPEATS):
        started = time.process_time_ns()
        for event in events:
            call(event)
        best = min(best, (time.process_time_ns() - started) / len(events))
    return best
