"""The engine's state on one partition, and how its keys are laid out.

Five tables, each a faust table on RocksDB with its changelog (engine/app.py), or dicts in the
tests (`MemoryState`):

- `executions`: execution id -> `Execution` (JSON). An execution that ended keeps a small record
  (id, status, when) so a command replayed later starts nothing new.
- `timers`: big-endian due time (ms) + execution id + NUL + node id -> `Timer` (JSON). Due timers
  are a prefix of the table in key order, so the ticker reads them from the start and stops at
  the first one not due; they live on disk, not on the heap.
- `running`: index keys, values empty: `["p", project, environment, person, workflow, execution]`
  (stop events: a person's executions of a workflow) and `["u", project, environment, user,
  execution]` (the API's stop: a user's executions). JSON arrays, so a prefix of one is the
  array's opening elements and a comma: no separator can be ambiguous.
- `templates`: `workflow:<SHA-256 of the template>` -> the template, stored once for all the
  executions that run it (a published version never changes, but a draft run by `execute`, as
  version 0, may: the content names it).
- `stats`: workflow id -> counters (engine/stats.py); its changelog is `headwater.workflow-stats`.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson

from schemas.executions import Delivery
from schemas.templates import edges

__all__ = [
    "Execution",
    "Graph",
    "MemoryState",
    "State",
    "TableName",
    "Timer",
    "execution_id",
    "from_ms",
    "index_keys",
    "index_prefix",
    "parse_timer_key",
    "template_of",
    "timer_key",
    "to_ms",
    "touch",
]

TableName = Literal["executions", "timers", "running", "templates", "stats"]
TABLES: tuple[TableName, ...] = ("executions", "timers", "running", "templates", "stats")
Status = Literal["running", "finished", "stopped"]


class State(Protocol):
    """One partition's tables: the partition of the record being handled."""

    def get(self, table: TableName, key: bytes) -> bytes | None: ...
    def put(self, table: TableName, key: bytes, value: bytes) -> None: ...
    def delete(self, table: TableName, key: bytes) -> None: ...
    def scan(self, table: TableName, prefix: bytes) -> Iterator[bytes]:
        """The keys starting with `prefix`, in key order."""
        ...


@dataclass(slots=True)
class MemoryState:
    """`State` over dicts, for tests and the replay property checks."""

    tables: dict[str, dict[bytes, bytes]] = field(
        default_factory=lambda: {name: {} for name in TABLES}
    )

    def get(self, table: TableName, key: bytes) -> bytes | None:
        return self.tables[table].get(key)

    def put(self, table: TableName, key: bytes, value: bytes) -> None:
        self.tables[table][key] = value

    def delete(self, table: TableName, key: bytes) -> None:
        self.tables[table].pop(key, None)

    def scan(self, table: TableName, prefix: bytes) -> Iterator[bytes]:
        return iter(sorted(k for k in self.tables[table] if k.startswith(prefix)))


@dataclass(slots=True)
class Execution:
    """A running execution: what it runs, its data, and the nodes it is at (node id ->
    {"entered": ms, "due": ms, "attempt": n}); `done` holds the nodes it has run (a node runs
    at most once per execution, whichever branch reaches it first)."""

    id: str
    key: str  # the Kafka key of its command: signals about it are keyed alike
    project_id: str
    environment: Literal["test", "live"]
    workflow_id: str
    version: int
    template: str  # its key in `templates`
    user_key: str
    person_id: str | None
    stop_event: str | None
    data: dict[str, Any]
    started_at: int
    status: Status = "running"
    ended_at: int | None = None
    nodes: dict[str, dict[str, int]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)

    def encode(self) -> bytes:
        if self.status != "running":  # all a replayed command needs to know
            return orjson.dumps({"id": self.id, "status": self.status, "ended_at": self.ended_at})
        return orjson.dumps({name: getattr(self, name) for name in self.__slots__})  # type: ignore[attr-defined]

    @classmethod
    def decode(cls, value: bytes) -> "Execution | None":
        """The execution, or None when it has ended."""
        fields = orjson.loads(value)
        return cls(**fields) if fields["status"] == "running" else None


@dataclass(frozen=True, slots=True)
class Timer:
    """What comes due: a Delay's end (`delay`), a webhook attempt (`send`), or the end of an
    ended execution's record (`forget`). A `replay` send is a dead letter put back by `headwater
    dlq replay`: it delivers, and advances nothing."""

    kind: Literal["delay", "send", "forget"]
    key: str  # the execution's Kafka key
    attempt: int = 1
    delivery: Delivery | None = None
    replay: bool = False

    def encode(self) -> bytes:
        fields: dict[str, Any] = {"kind": self.kind, "key": self.key, "attempt": self.attempt}
        if self.delivery is not None:
            fields["delivery"] = self.delivery.model_dump()
        if self.replay:
            fields["replay"] = True
        return orjson.dumps(fields)

    @classmethod
    def decode(cls, value: bytes) -> "Timer":
        fields = orjson.loads(value)
        delivery = fields.pop("delivery", None)
        return cls(**fields, delivery=Delivery(**delivery) if delivery is not None else None)


def timer_key(due_ms: int, execution_id: str, node_id: str) -> bytes:
    return due_ms.to_bytes(8, "big") + execution_id.encode() + b"\0" + node_id.encode()


def parse_timer_key(key: bytes) -> tuple[int, str, str]:
    """(due ms, execution id, node id)."""
    execution_id, _, node_id = key[8:].partition(b"\0")
    return int.from_bytes(key[:8], "big"), execution_id.decode(), node_id.decode()


def index_prefix(*parts: str) -> bytes:
    """The `running` keys whose arrays start with `parts`."""
    return orjson.dumps(list(parts))[:-1] + b","


class Graph:
    """A template's nodes by id and its edges as children lists."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.nodes = {n["id"]: n for n in template.get("nodes") or [] if isinstance(n, dict)}
        self._children: dict[str, list[str]] = {}
        for parent, child in edges(template, self.nodes.keys()):
            self._children.setdefault(parent, []).append(child)

    def starts(self) -> list[str]:
        return [i for i, node in self.nodes.items() if node.get("type") == "Start"]

    def children(self, node_id: str) -> list[str]:
        return self._children.get(node_id, [])


def index_keys(execution: Execution) -> list[bytes]:
    """The `running` keys of an execution."""
    scope = (execution.project_id, execution.environment)
    keys = [orjson.dumps(["u", *scope, execution.user_key, execution.id])]
    if execution.person_id is not None:
        person = [*scope, execution.person_id, execution.workflow_id, execution.id]
        keys.append(orjson.dumps(["p", *person]))
    return keys


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def template_of(state: State, execution: Execution) -> dict[str, Any]:
    stored = state.get("templates", execution.template.encode())
    return orjson.loads(stored) if stored is not None else {}


def touch(state: State, ident: str) -> None:
    """Write an execution's stored state again, unchanged: a record that finds its work done
    already (a replay after a crash) makes sure the changelog has it (engine/executor.py)."""
    stored = state.get("executions", ident.encode())
    if stored is None:
        return
    state.put("executions", ident.encode(), stored)
    execution = Execution.decode(stored)
    if execution is None:
        return
    for index in index_keys(execution):
        state.put("running", index, b"")
    for node_id, node in execution.nodes.items():
        tkey = timer_key(node["due"], execution.id, node_id)
        if (timer := state.get("timers", tkey)) is not None:
            state.put("timers", tkey, timer)


_NAMESPACE = uuid.UUID("6f3c2a8e-5b1d-4e0a-9c47-2d8b1f6e3a90")


def execution_id(workflow_id: str, request_id: str) -> str:
    """One per workflow and triggering event or request; not per version: a command made again
    after a re-publish (a replayed raw record) carries the new version, and starts nothing."""
    return str(uuid.uuid5(_NAMESPACE, f"{workflow_id}:{request_id}"))
