"""The Embed Workflow API's state, as every replica rebuilds it from `headwater.workflows`.

The topic has one partition, so every replica (each gateway process, the processors, the sink)
reads the same changes in the same order and applies them with the rules below. A change's fate
is decided here, not by the process that wrote it: that process waits until its own replica has
applied the change and answers with the decision. The rules, for a change to the object at `key`:

- `put` of an object that is live: accepted when its `base` is the live state's request id (an
  edit computed from what is there); otherwise refused `changed` (someone else wrote first), or
  `exists` for a new object (`base` None) in the place of a live one, unless that one is stale
  (an idempotency record expired, or a claim whose lease ran out).
- `put` of an object that was deleted: accepted only as a new object (`base` None): a user key
  can be used again, a workflow id never is.
- `put` of an object this replica has never seen: accepted. A compacted topic keeps only the last
  change of each key, so a replica starting later may see an edit without the creation before it.
- a workflow's `key` must be free among its user's other workflows (else `taken`).
- `delete` is accepted unless `base` names another state than the live one (`changed`) or the
  object is deleted already and `base` names a state (`gone`); a tombstone forgets the key.
- a change repeating the live state's request id is an accepted no-op: it is a repair (below).

Compaction must not change an outcome. Kafka's cleaner works on the log behind a point: there,
only the last change of each key is kept, and everything after the point is intact. So a refused
change must never be its key's last: the replica that writes (the gateway) re-publishes the key's
decided state after every refusal it sees (`Decision.repair`; at start, for each key whose last
change was refused: `unrepaired`), within milliseconds, and the topic's `min.compaction.lag.ms`
(an hour) keeps the cleaner well behind that. Then every change the cleaner keeps was accepted,
and the rules accept it again on a replay: with its key's earlier changes gone, the key is new,
and the other keys hold at that offset what they held when it was first decided
(tests/runtime/test_definitions.py replays random races through compaction to check it).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from schemas.workflows import Change, Environment, Kind, definition_key, parse_definition_key

__all__ = ["ARCHIVED_PREFIX", "Decision", "Definitions", "Refused", "Stored", "stale"]

ARCHIVED_PREFIX = "ARCHIVED__"

Refused = Literal["changed", "exists", "gone", "taken", "invalid"]
Address = tuple[str, Environment, Kind, str]


@dataclass(slots=True)
class Stored:
    """An object's live state: the request that made it, its value, and that change's bytes."""

    request_id: str
    object: dict[str, Any]
    raw: bytes
    at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """What a replica made of one change."""

    key: bytes
    request_id: str
    refused: Refused | None = None
    repair: bytes | None = None  # refused: the value to re-publish at `key` (None: a tombstone)

    @property
    def accepted(self) -> bool:
        return self.refused is None


@dataclass
class Definitions:
    """Every project's workflows, users, event triggers and idempotency records."""

    _live: dict[Address, Stored] = field(default_factory=dict)
    # Deleted objects: the deleting change (request id and bytes), None when an archive moved it
    _deleted: dict[Address, tuple[str, bytes] | None] = field(default_factory=dict)
    # (project, environment, user key) -> workflow key -> workflow id
    _workflow_keys: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    unrepaired: dict[bytes, bytes | None] = field(default_factory=dict)

    def get(
        self, project_id: str, environment: Environment, kind: Kind, name: str
    ) -> Stored | None:
        return self._live.get((project_id, environment, kind, name))

    def deleted(self, project_id: str, environment: Environment, kind: Kind, name: str) -> bool:
        return (project_id, environment, kind, name) in self._deleted

    def workflow_id(
        self, project_id: str, environment: Environment, user: str, key: str
    ) -> str | None:
        return self._workflow_keys.get((project_id, environment, user), {}).get(key)

    def workflows(self, project_id: str, environment: Environment, user: str) -> list[Stored]:
        """The user's workflows, newest first (ids are UUIDv7: time-ordered)."""
        ids = self._workflow_keys.get((project_id, environment, user), {}).values()
        found = (self._live[(project_id, environment, "workflow", i)] for i in ids)
        return sorted(found, key=lambda stored: stored.object["id"], reverse=True)

    def expired(self, at: datetime) -> list[tuple[bytes, str]]:
        """Idempotency records to sweep at `at`: past their 24 hours, or claims abandoned by a
        process that died a day ago; as (Kafka key, request id of the live record)."""
        return [
            (definition_key(*address), stored.request_id)
            for address, stored in self._live.items()
            if address[2] == "idempotency" and _expired(stored.object, at)
        ]

    def published_count(self) -> int:
        """Workflows, in every project and environment, with a published version."""
        return sum(1 for _ in self.published_workflows())

    def published_workflows(self) -> Iterator[tuple[str, Environment, dict[str, Any]]]:
        """Every workflow with a published version, as (project id, environment, workflow)."""
        for (project_id, environment, kind, _), stored in self._live.items():
            if kind == "workflow" and stored.object.get("last_published_at") is not None:
                yield project_id, environment, stored.object

    def apply(self, key: bytes, value: bytes | None) -> Decision | None:
        """Apply one record of the topic; the decision, or None for a tombstone or a foreign
        record (both only forget state)."""
        try:
            address = parse_definition_key(key)
        except (ValueError, TypeError):
            return None
        if value is None:
            self.unrepaired.pop(key, None)
            self._forget(address)
            return None
        try:
            change = Change.model_validate_json(value)
        except ValidationError:
            return self._refuse(key, address, "?", "invalid")
        refused = self._check(address, change)
        if refused is not None:
            return self._refuse(key, address, change.request_id, refused)
        self.unrepaired.pop(key, None)
        if change.op == "delete":
            self._forget(address)
            if address[2] != "idempotency":  # a swept key may be claimed again: nothing to keep
                self._deleted[address] = (change.request_id, value)
        elif change.request_id != self._request_of(address):
            self._store(address, change, value)
        return Decision(key, change.request_id)

    def _check(self, address: Address, change: Change) -> Refused | None:
        live = self._live.get(address)
        if live is not None and change.request_id == live.request_id:
            return None  # a repair
        if change.op == "delete":
            if live is None:  # deleted already, or its creation compacted away
                deleted = self._deleted.get(address)
                if deleted is not None and deleted[0] == change.request_id:
                    return None  # a repair
                return None if address not in self._deleted or change.base is None else "gone"
            return None if change.base in (None, live.request_id) else "changed"
        if change.object is None or not _well_formed(address[2], change.object):
            return "invalid"  # a put must carry its object, a workflow its key and user
        if change.replaces is not None:  # an archive: decided by the state it moves
            return self._check_replaced(address, change)
        if live is not None:
            if change.base is None:
                return None if stale(live, change.at) else "exists"
            if change.base != live.request_id:
                return "changed"
        elif address in self._deleted and change.base is not None:
            return "gone"
        return self._key_taken(address, change)

    def _check_replaced(self, address: Address, change: Change) -> Refused | None:
        project_id, environment, kind, _ = address
        replaced_address = (project_id, environment, kind, change.replaces or "")
        replaced = self._live.get(replaced_address)
        if replaced is None:  # archived already; or its history compacted away: nothing to move
            return "gone" if replaced_address in self._deleted else None
        return None if change.base == replaced.request_id else "changed"

    def _key_taken(self, address: Address, change: Change) -> Refused | None:
        project_id, environment, kind, name = address
        if kind != "workflow" or change.object is None:
            return None
        holder = self.workflow_id(
            project_id, environment, change.object["user_key"], change.object["key"]
        )
        return "taken" if holder not in (None, name) else None

    def _refuse(self, key: bytes, address: Address, request_id: str, why: Refused) -> Decision:
        """The refusal, with its repair: the live state, or the change that deleted the object
        (a tombstone would let compaction forget the deletion), or a tombstone."""
        live, deleted = self._live.get(address), self._deleted.get(address)
        repair = live.raw if live is not None else deleted[1] if deleted is not None else None
        self.unrepaired[key] = repair
        return Decision(key, request_id, why, repair)

    def _request_of(self, address: Address) -> str | None:
        live = self._live.get(address)
        return live.request_id if live is not None else None

    def _store(self, address: Address, change: Change, raw: bytes) -> None:
        assert change.object is not None
        project_id, environment, kind, name = address
        self._forget(address)
        self._deleted.pop(address, None)
        if change.replaces is not None:
            replaced = (project_id, environment, kind, change.replaces)
            self._forget(replaced)
            self._deleted[replaced] = None
        self._live[address] = Stored(change.request_id, change.object, raw, change.at)
        if kind == "workflow":
            scope = (project_id, environment, change.object["user_key"])
            self._workflow_keys.setdefault(scope, {})[change.object["key"]] = name

    def _forget(self, address: Address) -> None:
        stored = self._live.pop(address, None)
        project_id, environment, kind, _ = address
        if stored is None or kind != "workflow":
            return
        scope = (project_id, environment, stored.object["user_key"])
        keys = self._workflow_keys.get(scope, {})
        if keys.get(stored.object["key"]) == address[3]:
            del keys[stored.object["key"]]


def _well_formed(kind: Kind, record: dict[str, Any]) -> bool:
    """What the rules read of an object is there (a direct producer may write anything)."""
    if kind == "workflow":
        return isinstance(record.get("key"), str) and isinstance(record.get("user_key"), str)
    if kind == "idempotency":
        return isinstance(record.get("lease_until"), str)
    return True


def _expired(record: dict[str, Any], at: datetime) -> bool:
    expires = record.get("expires_at")
    if expires is not None:
        return datetime.fromisoformat(expires) <= at
    abandoned = datetime.fromisoformat(record["lease_until"]) + timedelta(days=1)
    return record.get("status") is None and abandoned <= at


def stale(live: Stored, at: datetime) -> bool:
    """An idempotency record another request may take over: expired, or a claim whose holder
    did not finish within its lease (it crashed)."""
    record = live.object
    if "lease_until" not in record:
        return False
    expires = record.get("expires_at")
    if expires is not None and datetime.fromisoformat(expires) <= at:
        return True
    return record.get("status") is None and datetime.fromisoformat(record["lease_until"]) <= at
