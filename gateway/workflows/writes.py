"""How every Embed Workflow API write reaches the definitions: compute a change from the state
this process sees, write it, and compute again when another request changed the object first.

The replica decides (runtime/definitions.py); this turns its refusals into answers: `changed`
and `exists` mean "someone wrote first", so the change is recomputed from the newer state (an
update re-applies its own attributes, a discovery finds the user made meanwhile); `taken` and
`gone` are the caller's answer (409 and 404).
"""

import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.errors import Conflict, NotFound
from gateway.workflows.auth import Caller
from gateway.workflows.store import DefinitionStore
from runtime.definitions import Definitions, Refused, Stored
from schemas.workflows import Change, Kind, definition_key

__all__ = ["Writer", "iso", "new_id", "now"]

_ATTEMPTS = 8


def now() -> datetime:
    """The time of a change, to the second: the API shows seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """How times are stored and shown: seconds, UTC, `Z` (the seed's `2023-12-29T18:08:10Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    """A UUIDv7 (RFC 9562): its first 48 bits are the Unix time in milliseconds, so ids sort in
    creation order and "reverse chronological" is descending id order, as the seed's ids are."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


Make = Callable[[Stored | None], Change | None]


class Writer:
    """Writes changes for one store, retrying the ones a concurrent request overtook."""

    def __init__(self, store: DefinitionStore) -> None:
        self.store = store

    @property
    def state(self) -> Definitions:
        return self.store.state

    def live(self, caller: Caller, kind: Kind, name: str) -> Stored | None:
        return self.state.get(caller.project.id, caller.environment, kind, name)

    async def write(self, caller: Caller, kind: Kind, name: str, make: Make) -> Change | None:
        """Write `make(live state)` until it is accepted; None when `make` finds nothing to
        write (the state already is what the request wants)."""
        key = definition_key(caller.project.id, caller.environment, kind, name)
        for _ in range(_ATTEMPTS):
            change = make(self.live(caller, kind, name))
            if change is None:
                return None
            decision = await self.store.write(key, change)
            if decision.refused is None:
                return change
            if decision.refused not in ("changed", "exists"):
                raise _refusal(kind, name, decision.refused, change)
        raise Conflict.at(kind, f"{kind} {name!r} kept changing under this request; retry")

    async def create_if_absent(
        self, caller: Caller, kind: Kind, name: str, new: Callable[[], dict[str, Any]]
    ) -> Change | None:
        """Make the object `new()` unless it exists (when two requests make it at once, the
        first in the log wins); None when it existed."""

        def make(live: Stored | None) -> Change | None:
            if live is not None:
                return None
            return Change(op="put", request_id=new_id(), at=now(), object=new())

        return await self.write(caller, kind, name, make)


def _refusal(kind: Kind, name: str, why: Refused, change: Change) -> Conflict | NotFound:
    if why == "gone":
        return NotFound.at("id", f"{kind} {name!r} was deleted by another request")
    if why == "taken" and change.object is not None:
        key = change.object["key"]
        return Conflict.at("key", f"another workflow of this user has the key {key!r}")
    return Conflict.at(kind, f"{kind} {name!r} could not be written ({why})")
