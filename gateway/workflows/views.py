"""The objects the Embed Workflow API answers with, rendered from the stored state.

The seed's examples list keys alphabetically after `id`; so do we. Every time is given three ways:
`<name>` and `<name>_utc` as `2023-12-29T18:08:10Z`, and `<name>_string` as
`Dec 29, 2023 06:08 pm UTC`. The configured ("local") time zone is UTC, so the first two agree.

What a workflow object shows (the seed's attribute table; its examples omit some):
- full objects (create, fetch, update, execute, clone): every attribute of the table, plus
  `tenant_key` (the owning user's key, as the seed's update example shows) and `auto_start`;
- list items: the same without `template`, `template_draft` and `stats`, as the seed's list shows.
`executions_count` and `stats` are the engine's counters, not stored with the definition
(gateway/workflows/stats.py).
"""

from datetime import datetime
from typing import Any

from gateway.workflows.stats import Counts, node_stats
from gateway.workflows.template import actions_count
from runtime.definitions import Stored
from schemas.workflows import Environment

__all__ = [
    "event_trigger_object",
    "stamps",
    "user_view",
    "workflow_view",
]

_LIST_OMITS = ("template", "template_draft", "stats")
_TIMES = ("created_at", "updated_at", "last_published_at")


def stamps(name: str, value: str | None) -> dict[str, str | None]:
    """`name`, `name_utc` and `name_string` of one stored ISO time (all None when unset)."""
    if value is None:
        return {name: None, f"{name}_string": None, f"{name}_utc": None}
    moment = datetime.fromisoformat(value)
    text = moment.strftime("%b %d, %Y %I:%M ") + moment.strftime("%p").lower() + " UTC"
    return {name: value, f"{name}_string": text, f"{name}_utc": value}


def workflow_view(
    stored: dict[str, Any],
    counts: Counts,
    *,
    listed: bool = False,
    expand: tuple[str, ...] = (),
    triggers: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A workflow as the API shows it, with the engine's `counts` of it; `triggers` maps event
    names to their trigger objects, for the attributes named in `expand`."""
    view: dict[str, Any] = {
        "actions_count": actions_count(stored["template"]),
        "auto_start": stored["auto_start"],
        "event_trigger": stored["event_trigger"],
        "event_trigger_draft": stored["event_trigger_draft"],
        "executions_count": counts.executions_count,
        "key": stored["key"],
        "name": stored["name"],
        "stats": node_stats(counts, stored["template"]),
        "stop_event": stored["stop_event"],
        "stop_event_draft": stored["stop_event_draft"],
        "template": stored["template"],
        "template_draft": stored["template_draft"],
        "template_status": stored["template_status"],
        "tenant_key": stored["user_key"],
        "trigger_conditions": stored["trigger_conditions"],
        "trigger_conditions_draft": stored["trigger_conditions_draft"],
    }
    for name in _TIMES:
        view |= stamps(name, stored[name])
    for name in dict.fromkeys(expand):  # `expand[]` may name one twice: expand it once
        event = view.get(name)
        if event is not None and triggers is not None and event in triggers:
            view[name] = triggers[event]
    for name in _LIST_OMITS if listed else ():
        del view[name]
    return {"id": stored["id"], **dict(sorted(view.items()))}


def event_trigger_object(stored: Stored, environment: Environment) -> dict[str, Any]:
    """An event trigger as `expand[]` shows it: `id`, `event`, and when it was first used."""
    trigger = stored.object
    return {
        "id": trigger["id"],
        "object": "event_trigger",
        "event": trigger["event"],
        "livemode": environment == "live",
        **stamps("created_at", trigger["created_at"]),
    }


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    """The seed's user object, key for key and in its order."""
    return {
        "key": user["key"],
        "object": "user",
        "id": user["id"],
        "name": user["name"],
        **stamps("created_at", user["created_at"]),
        "email": user["email"],
        "groups": user["groups"],
        "config": {
            "primary_color": user["config"]["primary_color"],
            "logo_url": user["config"]["logo_url"],
            "user_data": user["config"]["user_data"],
        },
        "user_data_schema": user["user_data_schema"],
    }
