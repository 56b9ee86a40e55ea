"""Users (the workflow creators) and event triggers, both discovered on first use.

Any authenticated use of a user key (fetching the user, creating a workflow or triggering for
it) makes the user if it does not exist yet: the seed's "users can be auto-discovered", and `main`
always exists. Two processes discovering one user at once make it once (the second finds the
first's). A new user is named after its key, has no email, and is in the group `admin` when it
is `main` (the account's own user) and in none otherwise.

Deleting a user archives it: it moves to the key `ARCHIVED__<key>` (fetchable there, as the seed's
answer shows) and its key is free for a new user. Its workflows stay where they are. `main`
cannot be deleted, and `ARCHIVED__` keys cannot be written.

Event triggers are the events workflows start on: one object per event name, made the first time
a workflow names it, so `expand[]=event_trigger` has an object with a stable id to show.
"""

import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any

from gateway.errors import InvalidPayload, NotFound
from gateway.workflows.auth import Caller
from gateway.workflows.models import UserParams
from gateway.workflows.writes import Writer, iso, new_id, now
from runtime.definitions import ARCHIVED_PREFIX, Stored
from schemas.workflows import Change

__all__ = ["MAIN_USER", "Users"]

MAIN_USER = "main"
# Event trigger ids are UUIDv5s of (project, environment, event) in this namespace.
_TRIGGER_NAMESPACE = uuid.UUID("5b0c5c0e-9f6e-4f64-8a55-0c3f3d1f2b7a")


class Users:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def discover(self, caller: Caller, key: str) -> dict[str, Any]:
        """The user `key`, made now if it is new."""
        _writable(key)
        change = await self._writer.create_if_absent(caller, "user", key, lambda: _new_user(key))
        return self._current(caller, key) if change is None else _object(change)

    async def fetch(self, caller: Caller, key: str) -> dict[str, Any]:
        if key.startswith(ARCHIVED_PREFIX):
            return self._current(caller, key)
        return await self.discover(caller, key)

    async def upsert(
        self, caller: Caller, key: str, params: UserParams, given: set[str]
    ) -> dict[str, Any]:
        _writable(key)

        def make(live: Stored | None) -> Change:
            user = _new_user(key) if live is None else live.object
            base = None if live is None else live.request_id
            changed = _updated(user, params, given)
            return Change(op="put", request_id=new_id(), base=base, at=now(), object=changed)

        change = await self._writer.write(caller, "user", key, make)
        assert change is not None
        return _object(change)

    async def archive(self, caller: Caller, key: str) -> dict[str, Any]:
        _writable(key)
        if key == MAIN_USER:
            raise InvalidPayload.at("key", "the main user cannot be deleted")
        archived_key = ARCHIVED_PREFIX + key

        def make(_: Stored | None) -> Change:
            live = self._writer.live(caller, "user", key)
            if live is None:
                raise NotFound.at("key", f"no user {key!r}")
            user = live.object | {"key": archived_key}
            return Change(
                op="put", request_id=new_id(), base=live.request_id, replaces=key, at=now(),
                object=user,
            )  # fmt: skip

        change = await self._writer.write(caller, "user", archived_key, make)
        assert change is not None
        return _object(change)

    async def discover_triggers(self, caller: Caller, events: Iterable[str | None]) -> None:
        """Make the event trigger objects of the events a workflow names."""
        for event in sorted({event for event in events if event is not None}):
            scoped = f"{caller.project.id}/{caller.environment}/{event}"
            trigger = {
                "id": str(uuid.uuid5(_TRIGGER_NAMESPACE, scoped)),
                "event": event,
                "created_at": iso(now()),
            }
            await self._writer.create_if_absent(
                caller, "event_trigger", event, partial(dict, trigger)
            )

    def _current(self, caller: Caller, key: str) -> dict[str, Any]:
        live = self._writer.live(caller, "user", key)
        if live is None:
            raise NotFound.at("key", f"no user {key!r}")
        return live.object


def _writable(key: str) -> None:
    if key.startswith(ARCHIVED_PREFIX):
        raise InvalidPayload.at("key", f"keys starting with {ARCHIVED_PREFIX} are archived users")


def _object(change: Change) -> dict[str, Any]:
    assert change.object is not None
    return change.object


def _new_user(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "id": new_id(),
        "name": key,
        "created_at": iso(now()),
        "email": None,
        "groups": ["admin"] if key == MAIN_USER else [],
        "config": {"primary_color": None, "logo_url": None, "user_data": {}},
        "user_data_schema": [],
    }


def _updated(user: dict[str, Any], params: UserParams, given: set[str]) -> dict[str, Any]:
    """Only the attributes given change; an explicit null unsets one (to its empty value)."""
    updated = dict(user)
    for name in ("name", "email"):
        if name in given:
            updated[name] = getattr(params, name)
    if "name" in given and params.name is None:
        updated["name"] = user["key"]
    for name in ("groups", "user_data_schema"):
        if name in given:
            updated[name] = getattr(params, name) or []
    if "config" in given:
        config = dict(user["config"])
        if params.config is None:
            config = {"primary_color": None, "logo_url": None, "user_data": {}}
        else:
            for name in params.config.model_fields_set:
                config[name] = getattr(params.config, name)
            config["user_data"] = config["user_data"] or {}
        updated["config"] = config
    return updated
