"""What a record becomes for ClickHouse: an event's JSON line, or a columnar row.

Events stay JSON (ClickHouse parses and checks them itself); entries, bot counts, workflow
versions, commands and execution steps are small tables written as columns, in the order of
`*_COLUMNS`. (A workflow change becomes a version only once the sink's replica accepted it:
`sinks/workflows.py`; executions follow from their steps in ClickHouse, migration 0008.)
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, decode
from schemas.executions import Step
from schemas.workflows import Command
from sinks.base import Source
from sinks.workflows import WorkflowVersion

__all__ = [
    "BOT_COLUMNS",
    "COMMAND_COLUMNS",
    "ENTRY_COLUMNS",
    "STEP_COLUMNS",
    "VERSION_COLUMNS",
    "EntryChange",
    "bot_rows",
    "command_rows",
    "decode_row",
    "entry_rows",
    "step_rows",
    "version_rows",
]

BOT_COLUMNS = ("project_id", "day", "source_format", "user_agent", "events")
ENTRY_COLUMNS = (
    "project_id", "embeddable_id", "identifier_key", "identifier_value", "entry_id",
    "updated_at", "deleted", "version",
)  # fmt: skip
VERSION_COLUMNS = (
    "project_id", "environment", "workflow_id", "request_id", "base", "at", "deleted", "key",
    "user_key", "name", "template_status", "version", "last_published_at", "definition",
)  # fmt: skip
COMMAND_COLUMNS = (
    "type", "request_id", "project_id", "environment", "user_key", "at", "event",
    "all_workflows", "workflow_ids", "starts", "workflow_version", "stop_event", "execution_data",
    "filters",
)  # fmt: skip
STEP_COLUMNS = (
    "project_id", "environment", "workflow_id", "version", "execution_id", "step_id", "user_key",
    "person_id", "node_id", "kind", "at", "attempt", "status", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class EntryChange:
    """A record of the entries topic: the entry, or its deletion (a tombstone)."""

    key: tuple[str, str, str, str]  # project, embeddable, identifier key, identifier value
    entry: Entry | None
    offset: int
    written_at: datetime

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None, offset: int = 0) -> "EntryChange":
        parts = orjson.loads(key or b"null")
        if not (
            isinstance(parts, list) and len(parts) == 4 and all(isinstance(p, str) for p in parts)
        ):
            raise ValueError("an entries key is a JSON array of four strings")
        entry = Entry.model_validate_json(value) if value is not None else None
        return cls(tuple(parts), entry, offset, datetime.now(UTC))  # type: ignore[arg-type]


def decode_row(topic: str, source: Source) -> Any:
    """The row a record of `topic` becomes; raises ValidationError or ValueError for a bad one."""
    if topic == topics.ENTRIES:
        return EntryChange.decode(source.key, source.value, source.offset)
    if topic == topics.BOTS:
        return decode(source.value or b"")
    if topic == topics.WORKFLOW_COMMANDS:
        return Command.model_validate_json(source.value or b"")
    if topic == topics.WORKFLOW_HISTORY:
        return Step.model_validate_json(source.value or b"")
    return _json_line(source.value)


def _json_line(value: bytes | None) -> bytes:
    """The record as one JSON line for ClickHouse, which checks it (constraints on `events`)."""
    if not value:
        raise ValueError("an empty record is not an event")
    return value if b"\n" not in value else orjson.dumps(orjson.loads(value))


def bot_rows(events: list[Event]) -> list[list[Any]]:
    """One row per project, day, format and user agent, with its count of events."""
    counts = Counter(
        (e.project_id, e.event_time.date(), e.source_format, e.context.get("user_agent", ""))
        for e in events
    )
    return [[*key, n] for key, n in counts.items()]


def entry_rows(changes: list[EntryChange]) -> list[list[Any]]:
    """One row per change; a deletion keeps the key, an empty entry id and `deleted` set."""
    return [
        [*change.key, change.entry.entry_id if change.entry else "",
         change.entry.updated_at if change.entry else change.written_at,
         change.entry is None, change.offset]
        for change in changes
    ]  # fmt: skip


def version_rows(versions: list[WorkflowVersion]) -> list[list[Any]]:
    """One row per accepted change to a workflow: its columns, and the whole object as JSON."""
    return [
        [v.project_id, v.environment, v.workflow_id, v.request_id, v.base, v.at, v.deleted,
         v.fields.key, v.fields.user_key, v.fields.name, v.fields.template_status,
         v.fields.version, v.fields.last_published_at, orjson.dumps(v.workflow).decode()]
        for v in versions
    ]  # fmt: skip


def command_rows(commands: list[Command]) -> list[list[Any]]:
    """One row per command; the engine's inputs (execution data, filters) as JSON text, and the
    executions it starts as `workflow_id:version` (their templates are in `workflow_versions`)."""
    return [
        [c.type, c.request_id, c.project_id, c.environment, c.user_key, c.at, c.event,
         c.all_workflows, c.workflow_ids, [f"{s.workflow_id}:{s.version}" for s in c.starts],
         c.workflow_version, c.stop_event, orjson.dumps(c.execution_data).decode(),
         orjson.dumps(c.filters).decode()]
        for c in commands
    ]  # fmt: skip


def step_rows(steps: list[Step]) -> list[list[Any]]:
    """One row per step, as reported; a repeat collapses in the table (same step id)."""
    return [
        [s.project_id, s.environment, s.workflow_id, s.version, s.execution_id, s.step_id,
         s.user_key, s.person_id, s.node_id, s.kind, s.at, s.attempt, s.status, s.detail]
        for s in steps
    ]  # fmt: skip
