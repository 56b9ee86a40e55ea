"""The rules every replica applies to `headwater.workflows`, and that compaction cannot change
their outcome once refusals are repaired; no Kafka (the live race tests are in
tests/gateway/workflows/test_races_live.py)."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from runtime.definitions import Definitions
from schemas.workflows import Change, Kind, definition_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Log = list[tuple[bytes, bytes | None]]


def key(kind: Kind, name: str) -> bytes:
    return definition_key("p", "test", kind, name)


def workflow(workflow_id: str, wf_key: str, user: str = "main", **extra: Any) -> dict[str, Any]:
    return {"id": workflow_id, "key": wf_key, "user_key": user, **extra}


def put(request: str, obj: dict[str, Any], base: str | None = None, **extra: Any) -> bytes:
    return Change(op="put", request_id=request, base=base, at=T0, object=obj, **extra).encode()


def delete(request: str, base: str | None = None) -> bytes:
    return Change(op="delete", request_id=request, base=base, at=T0).encode()


def replay(log: Log) -> Definitions:
    state = Definitions()
    for record_key, value in log:
        state.apply(record_key, value)
    return state


def test_a_workflow_key_is_taken_by_the_first_create_only() -> None:
    state = Definitions()
    first = state.apply(key("workflow", "w1"), put("r1", workflow("w1", "onboarding")))
    second = state.apply(key("workflow", "w2"), put("r2", workflow("w2", "onboarding")))
    assert first is not None and first.accepted
    assert second is not None and second.refused == "taken" and second.repair is None
    assert state.workflow_id("p", "test", "main", "onboarding") == "w1"
    other_user = state.apply(key("workflow", "w3"), put("r3", workflow("w3", "onboarding", "bob")))
    assert other_user is not None and other_user.accepted  # keys are unique per user


def test_an_edit_must_be_based_on_the_live_state() -> None:
    state = Definitions()
    state.apply(key("workflow", "w1"), put("r1", workflow("w1", "a")))
    edit = state.apply(key("workflow", "w1"), put("r2", workflow("w1", "b"), base="r1"))
    stale = state.apply(key("workflow", "w1"), put("r3", workflow("w1", "c"), base="r1"))
    assert edit is not None and edit.accepted
    assert stale is not None and stale.refused == "changed"
    live = state.get("p", "test", "workflow", "w1")
    assert live is not None and live.object["key"] == "b"
    assert stale.repair == live.raw  # re-publishing the live state covers the refused change


def test_an_update_or_a_delete_based_on_a_deleted_state_is_refused() -> None:
    state = Definitions()
    state.apply(key("workflow", "w1"), put("r1", workflow("w1", "a")))
    gone = state.apply(key("workflow", "w1"), delete("r2"))
    late = state.apply(key("workflow", "w1"), put("r3", workflow("w1", "b"), base="r1"))
    again = state.apply(key("workflow", "w1"), delete("r4", base="r1"))
    assert gone is not None and gone.accepted
    assert late is not None and late.refused == "gone"
    assert again is not None and again.refused == "gone"
    assert state.workflow_id("p", "test", "main", "a") is None


def test_an_edit_whose_creation_was_compacted_away_is_accepted() -> None:
    state = Definitions()
    decision = state.apply(key("workflow", "w1"), put("r9", workflow("w1", "a"), base="r8"))
    assert decision is not None and decision.accepted


def test_a_repair_repeating_the_live_state_is_a_no_op() -> None:
    state = Definitions()
    raw = put("r1", workflow("w1", "a"))
    state.apply(key("workflow", "w1"), raw)
    state.apply(key("workflow", "w2"), put("r2", workflow("w2", "a")))  # refused: taken
    assert key("workflow", "w2") in state.unrepaired
    assert state.apply(key("workflow", "w2"), None) is None  # its repair: a tombstone
    repeated = state.apply(key("workflow", "w1"), raw)
    assert repeated is not None and repeated.accepted and state.unrepaired == {}


def test_archiving_a_user_moves_it_and_frees_its_key() -> None:
    state = Definitions()
    user = {"key": "ann", "id": "u1"}
    state.apply(key("user", "ann"), put("r1", user))
    archived = put("r2", user | {"key": "ARCHIVED__ann"}, base="r1", replaces="ann")
    assert (decision := state.apply(key("user", "ARCHIVED__ann"), archived)) and decision.accepted
    assert state.get("p", "test", "user", "ann") is None
    assert state.get("p", "test", "user", "ARCHIVED__ann") is not None
    stale_edit = state.apply(key("user", "ann"), put("r3", user, base="r1"))
    rediscovered = state.apply(key("user", "ann"), put("r4", {"key": "ann", "id": "u2"}))
    assert stale_edit is not None and stale_edit.refused == "gone"
    assert rediscovered is not None and rediscovered.accepted


def claim(request: str, at: datetime, lease_s: int = 60, expires: datetime | None = None) -> bytes:
    record = {
        "fingerprint": "f",
        "status": None,
        "body": None,
        "lease_until": (at + timedelta(seconds=lease_s)).isoformat(),
        "expires_at": None if expires is None else expires.isoformat(),
    }
    return Change(op="put", request_id=request, at=at, object=record).encode()


def test_an_idempotency_key_is_claimed_once_until_its_lease_or_life_ends() -> None:
    state, name = Definitions(), key("idempotency", "/api/v1/trigger k")
    assert (first := state.apply(name, claim("c1", T0))) and first.accepted
    assert (second := state.apply(name, claim("c2", T0))) and second.refused == "exists"
    after_lease = state.apply(name, claim("c3", T0 + timedelta(seconds=61)))
    assert after_lease is not None and after_lease.accepted  # the first holder died


def test_a_completed_key_is_kept_until_it_expires_and_life_keys_forever() -> None:
    state, name = Definitions(), key("idempotency", "/api/v1/trigger k")
    expires = T0 + timedelta(hours=24)
    state.apply(name, claim("c1", T0, expires=expires))
    live = state.get("p", "test", "idempotency", "/api/v1/trigger k")
    assert live is not None
    done = live.object | {"status": 200, "body": "{}"}
    state.apply(name, Change(op="put", request_id="d1", base="c1", at=T0, object=done).encode())
    late = state.apply(name, claim("c2", T0 + timedelta(hours=23)))
    expired = state.apply(name, claim("c3", T0 + timedelta(hours=24, seconds=1)))
    assert late is not None and late.refused == "exists"
    assert expired is not None and expired.accepted
    forever = key("idempotency", "/api/v1/trigger life-k")
    state.apply(forever, claim("l1", T0))
    years_later = state.apply(forever, claim("l2", T0 + timedelta(days=3650), lease_s=60))
    assert years_later is not None and years_later.accepted  # an unfinished claim's lease ended
    lasting = done | {"expires_at": None}
    state.apply(
        forever, Change(op="put", request_id="l3", base="l2", at=T0, object=lasting).encode()
    )
    never = state.apply(forever, claim("l4", T0 + timedelta(days=36500)))
    assert never is not None and never.refused == "exists"


def _random_log(rng: random.Random) -> tuple[Log, set[int]]:
    """Changes as racing gateways would write them, each refused one followed (as the gateway
    does) by its repair; and the offsets the cleaner may stop at: not between the two, which the
    topic's compaction lag keeps it from."""
    state, log, points = Definitions(), [], {0}
    for requests in range(60):
        name = f"w{rng.randrange(4)}"
        live = state.get("p", "test", "workflow", name)
        base = rng.choice([None, live.request_id if live else None, "stale"])
        value = (
            delete(f"r{requests}", base)
            if rng.random() < 0.2
            else put(f"r{requests}", workflow(name, f"k{rng.randrange(3)}"), base)
        )
        log.append((key("workflow", name), value))
        decision = state.apply(key("workflow", name), value)
        if decision is not None and not decision.accepted:
            log.append((decision.key, decision.repair))
            state.apply(decision.key, decision.repair)
        points.add(len(log))
    return log, points


def _compacted(log: Log, point: int) -> Log:
    """The log after Kafka's cleaner ran up to `point`: before it, only the last record of each
    key there is kept; after it, everything."""
    last = {record_key: offset for offset, (record_key, _) in enumerate(log[:point])}
    return [r for offset, r in enumerate(log) if offset >= point or last[r[0]] == offset]


def _live(state: Definitions) -> dict[str, Any]:
    """Each workflow's state, or that it was deleted (which refuses edits based on it)."""
    return {
        name: "deleted" if stored is None else (stored.request_id, stored.object)
        for name in (f"w{i}" for i in range(4))
        if (stored := state.get("p", "test", "workflow", name)) is not None
        or state.deleted("p", "test", "workflow", name)
    }


def test_compaction_keeps_every_outcome_once_refusals_are_repaired() -> None:
    for seed in range(300):
        rng = random.Random(seed)
        log, points = _random_log(rng)
        for point in sorted([*rng.sample(sorted(points), 5), len(log)]):
            compacted = replay(_compacted(log, point))
            assert _live(compacted) == _live(replay(log)), f"seed {seed}, cleaned to {point}"


def test_records_the_rules_cannot_read_are_refused_not_raised() -> None:
    state = Definitions()
    for value in (b"not json", put("r1", {"id": "w1"}), delete("r2") + b"x"):
        decision = state.apply(key("workflow", "w1"), value)
        assert decision is not None and decision.refused == "invalid"
    assert state.apply(b"not a key", b"{}") is None
