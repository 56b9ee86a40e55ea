"""Which changes on `headwater.workflows` become workflow versions in the store.

A change's record does not say whether it was accepted: that follows from every change before it,
applied in offset order by the same rules as every replica (`runtime/definitions.py`). So the
sink keeps a replica of its own, `WorkflowReplay`, and a change becomes a version only if that
replica accepts it: a put stores the object, a delete the last object it knew, marked deleted.

The topic is read by the sink's own consumer group, like every other topic, rather than by a
group-less follower (`runtime/replica.py`): the checkpoint then commits the versions exactly as it
commits events (pending ranges, deduplication tokens, rewinds after a failed write, dead letters),
and only one sink of the group writes them. The price is a second reading: the replica must see
the topic from its beginning, while rows are written only from the committed offset on (those
before it are stored already, decided when the topic still held every change). So whenever the
partition's records do not start where the replica stopped (the sink started, the partition was
assigned, or the checkpoint rewound it), the consumer seeks it to its beginning (`admit` returns
None), the records before that point only rebuild the replica, and the rest are decided and
written as usual. The topic is compacted and small, so re-reading it is cheap; a version written
twice (a crash before the commit) has the same request id and collapses in the table.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from runtime.definitions import Definitions
from schemas.workflows import Change, Environment, Kind, parse_definition_key
from sinks.base import Source

__all__ = ["WorkflowFields", "WorkflowReplay", "WorkflowVersion"]

Records = Sequence[ConsumerRecord[bytes, bytes]]


class WorkflowFields(BaseModel):
    """The fields of a workflow object the history has columns of (the whole object is kept
    too). A version without them cannot be stored: `decide` raises, and it is dead-lettered."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    user_key: str
    name: str
    template_status: str
    version: int = Field(ge=0)
    last_published_at: AwareDatetime | None = None


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """An accepted change to a workflow: the object it made (or, deleted, the one it removed)."""

    project_id: str
    environment: str
    workflow_id: str
    request_id: str
    base: str | None
    at: datetime
    deleted: bool
    fields: WorkflowFields
    workflow: dict[str, Any]


class WorkflowReplay:
    """The sink's replica of the definitions, fed in offset order: `admit` what the consumer
    polled, then `decide` each admitted record as it is added to a batch."""

    def __init__(self) -> None:
        self._definitions = Definitions()
        self._next: int | None = None  # the offset after the last applied; None: must rebuild
        self._silent_until = 0  # records below it were written before: rebuild only

    def restart(self) -> None:
        """The partition was (re)assigned: another sink may have moved it on meanwhile, so the
        replica is rebuilt from the beginning before anything is decided."""
        self._definitions = Definitions()
        self._next = None

    def admit(self, records: Records) -> list[ConsumerRecord[bytes, bytes]] | None:
        """The records to decide and write. None when the consumer must first seek the partition
        to its beginning: the records start where the replica did not stop (after an assignment
        or a rewind), so it is rebuilt, silently up to the first of them."""
        if not records:
            return []
        first = records[0].offset
        if self._next is None or first < self._next:
            self._definitions, self._next, self._silent_until = Definitions(), 0, first
            return None
        for record in records:
            if record.offset < self._silent_until:
                self._definitions.apply(record.key or b"", record.value)
                self._next = record.offset + 1
        return [record for record in records if record.offset >= self._silent_until]

    def decide(self, source: Source) -> WorkflowVersion | None:
        """Apply one record; the version it makes, or None (refused, another kind of object, a
        tombstone, or the repeat of a version already stored: a repair). Raises ValidationError
        for an accepted workflow that lacks the fields of a version."""
        self._next = source.offset + 1
        key, value = source.key or b"", source.value
        address = _workflow_address(key)
        before = self._definitions.get(*address) if address is not None else None
        decision = self._definitions.apply(key, value)
        if address is None or value is None or decision is None or not decision.accepted:
            return None
        change = Change.model_validate_json(value)  # accepted, so valid
        if before is not None and before.request_id == change.request_id:
            return None
        workflow = change.object if change.op == "put" else before.object if before else None
        if workflow is None:
            return None
        project_id, environment, _, workflow_id = address
        return WorkflowVersion(
            project_id, environment, workflow_id, change.request_id, change.base, change.at,
            change.op == "delete", WorkflowFields.model_validate(workflow), workflow,
        )  # fmt: skip


def _workflow_address(key: bytes) -> tuple[str, Environment, Kind, str] | None:
    """The object a key names, if it is a workflow."""
    try:
        address = parse_definition_key(key)
    except (ValueError, TypeError):
        return None
    return address if address[2] == "workflow" else None
