"""Which workflows an event starts or stops, and the command for the engine that says so.

Decisions (the README repeats them):
- An event starts the workflows of its project (any of the project's users) in the `live`
  environment that are published (`last_published_at` set), have `auto_start` true, whose
  published `event_trigger` is the event's name and whose published `trigger_conditions` hold
  (runtime/conditions.py). Only `live`: the pipeline's events are production traffic, so
  workflows made with test keys never react to them; `POST /trigger` with a test key runs test
  workflows (gateway/workflows/commands.py).
- An event whose name is a published workflow's published `stop_event` (same project, `live`;
  `auto_start` does not matter) stops its person's running executions of that workflow.
- Drafts never count: an edit changes what events do once it is published.
- The event's person (the command's subject, and whose executions a stop event stops): its
  `person_id` (identity resolution sets it), else its user id, anonymous id, identifier value,
  event id.
- What an event carries as `execution_data`: `{"event": {"id", "name", "time" (ISO 8601, UTC),
  "url", "properties", "metrics", "dimensions"}, "person": {"id", "user_id", "anonymous_id",
  "properties"}}`, the person's properties being those the event sets, as conditions see them.
- One command per event at most (`type="event"`): its request id is the event's id, so a
  processed event read again after a crash makes the same command and the engine's execution ids
  (workflow, request) start nothing new. Each `Start` carries the published template as
  the index held it when the event was processed: later edits never reach the execution.
- A published workflow the index cannot use (conditions that do not compile, a definition
  missing its parts: only a direct producer writes those, the API validates) triggers nothing;
  it is logged when the index is built.

`TriggerIndex` is built once from a `Definitions` (project -> event name -> what that name starts
and stops), so an event whose project or name it does not hold costs two dict lookups.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtime.conditions import ConditionError, Predicate, Subject, compile_conditions
from runtime.definitions import Definitions
from schemas.event import Event
from schemas.workflows import Command, Start

__all__ = [
    "Trigger",
    "TriggerIndex",
    "execution_data",
    "person_of",
    "person_properties",
    "start_of",
    "trigger_of",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Trigger:
    """What starts a workflow by itself: its event, conditions, and the execution it starts."""

    event: str
    start: Start
    predicate: Predicate | None  # None: no conditions (`{}`)

    def holds(self, subject: Subject) -> bool:
        return self.predicate is None or self.predicate(subject)


def start_of(workflow: Mapping[str, Any]) -> Start:
    """The definition an execution of `workflow` runs: the published one, or the draft of a
    workflow never published (version 0: how `execute` tries one out)."""
    drafted = "" if workflow.get("last_published_at") is not None else "_draft"
    return Start(
        workflow_id=workflow["id"], version=workflow["version"], user_key=workflow["user_key"],
        template=workflow[f"template{drafted}"], stop_event=workflow[f"stop_event{drafted}"],
    )  # fmt: skip


def trigger_of(workflow: Mapping[str, Any]) -> Trigger | None:
    """The workflow's published trigger; None unless it is published, starts automatically and
    names an event, or when it cannot be used (logged)."""
    event = workflow.get("event_trigger")
    published = workflow.get("last_published_at") is not None
    if not published or workflow.get("auto_start") is not True or not isinstance(event, str):
        return None
    try:
        conditions = workflow.get("trigger_conditions") or {}
        predicate = None if conditions == {} else compile_conditions(conditions)
        return Trigger(event, start_of(workflow), predicate)
    except (ConditionError, KeyError, TypeError, ValueError) as exc:
        log.warning(
            "a published workflow's trigger is unusable; it triggers nothing",
            extra={"workflow_id": workflow.get("id"), "error": str(exc)},
        )
        return None


def person_of(event: Event) -> str:
    return (
        event.person_id
        or event.user_id
        or event.anonymous_id
        or event.identifier_value
        or event.event_id
    )


def person_properties(event: Event) -> dict[str, Any]:
    """The person properties the event sets: `set_once`, then `set` over them."""
    return {**event.user_data.set_once, **event.user_data.set}


def execution_data(event: Event, person: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": {
            "id": event.event_id, "name": event.name, "time": _iso(event.event_time),
            "url": event.url, "properties": event.properties, "metrics": event.metrics,
            "dimensions": event.dimensions,
        },
        "person": {
            "id": person, "user_id": event.user_id, "anonymous_id": event.anonymous_id,
            "properties": properties,
        },
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Match:
    """What one event name of one project starts and stops."""

    triggers: tuple[Trigger, ...]
    stops: tuple[str, ...]  # workflow ids


class TriggerIndex:
    """The `live` published workflows of every project, by the event names that start or stop
    them."""

    def __init__(self, definitions: Definitions) -> None:
        starting: dict[tuple[str, str], list[Trigger]] = {}
        stopping: dict[tuple[str, str], list[str]] = {}
        for project_id, environment, workflow in definitions.published_workflows():
            if environment != "live":
                continue
            trigger = trigger_of(workflow)
            if trigger is not None:
                starting.setdefault((project_id, trigger.event), []).append(trigger)
            stop, workflow_id = workflow.get("stop_event"), workflow.get("id")
            if isinstance(stop, str) and isinstance(workflow_id, str):
                stopping.setdefault((project_id, stop), []).append(workflow_id)
        self._names: dict[str, dict[str, _Match]] = {}
        for project_id, name in starting.keys() | stopping.keys():
            triggers = sorted(starting.get((project_id, name), ()), key=_workflow_id)
            stops = tuple(sorted(stopping.get((project_id, name), ())))
            self._names.setdefault(project_id, {})[name] = _Match(tuple(triggers), stops)

    def commands_for(self, event: Event) -> Command | None:
        """The command for what `event` starts and stops; None when it starts and stops
        nothing."""
        names = self._names.get(event.project_id)
        if names is None:
            return None
        match = names.get(event.name)
        if match is None:
            return None
        return _command(event, match)


def _command(event: Event, match: _Match) -> Command | None:
    properties = person_properties(event)
    starts = []
    if match.triggers:
        subject = Subject(event.name, event.properties, event.metrics, event.dimensions, properties)
        starts = [trigger.start for trigger in match.triggers if trigger.holds(subject)]
    if not starts and not match.stops:
        return None
    person = person_of(event)
    return Command(
        type="event", request_id=event.event_id, project_id=event.project_id,
        environment="live", user_key=person, at=event.received_at, event=event.name,
        starts=starts, workflow_ids=list(match.stops),
        execution_data=execution_data(event, person, properties),
    )  # fmt: skip


def _workflow_id(trigger: Trigger) -> str:
    return trigger.start.workflow_id


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
