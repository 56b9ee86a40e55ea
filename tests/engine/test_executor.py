"""The executor over dict-backed state: starting once, waiting from the stored entry time,
webhook attempts and retries, stops, snapshots, fan-out, dead letters and their replay."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from engine.executor import Effects, Executor
from engine.state import Execution, MemoryState, Timer, execution_id, parse_timer_key
from schemas import topics
from schemas.dead_letter import DeadLetter
from schemas.executions import Outcome, Signal, Step
from schemas.workflows import Command, Start, command_key

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)
KEY = command_key("p1", "live", "person-1")
HOOK = {"id": "h", "type": "Webhook", "url": "https://example.com/hook", "params": "a: 1"}


def template(*nodes: dict[str, Any], edges: list[str], data: dict[str, Any] | None = None) -> dict:
    found: dict[str, Any] = {"nodes": [{"id": "s", "type": "Start"}, *nodes], "edges": edges}
    if data is not None:
        found["data"] = data
    return found


DELAY_THEN_HOOK = template(
    {"id": "d", "type": "Delay", "delay_n": 2, "delay_unit": "sec"}, HOOK, edges=["s-d", "d-h"]
)


def event_command(tpl: dict, *, version: int = 1, request: str = "ev-1", **extra: Any) -> Command:
    start = Start(workflow_id="wf", version=version, user_key="main", template=tpl,
                  stop_event="unsubscribed")  # fmt: skip
    fields: dict[str, Any] = {"starts": [start], "event": "signup"} | extra
    return Command(type="event", request_id=request, project_id="p1", environment="live",
                   user_key="person-1", at=AT, **fields)  # fmt: skip


def handle(state: MemoryState, record: Command | Signal, now_ms: int = AT_MS) -> Effects:
    return Executor(ZoneInfo("UTC")).handle(state, KEY, record, now_ms)


def execution(state: MemoryState, request: str = "ev-1") -> Execution | None:
    stored = state.get("executions", execution_id("wf", request).encode())
    assert stored is not None
    return Execution.decode(stored)


def timers(state: MemoryState, *, forget: bool = False) -> list[tuple[int, str, str, Timer]]:
    """The pending timers in key order; an ended execution's `forget` timer only if asked."""
    found = [
        (*parse_timer_key(k), Timer.decode(v)) for k, v in sorted(state.tables["timers"].items())
    ]
    return [t for t in found if forget or t[3].kind != "forget"]


def steps(effects: Effects) -> list[tuple[str, str]]:
    found = [
        Step.model_validate_json(v) for t, _, v in effects.records if t == topics.WORKFLOW_HISTORY
    ]
    return [(step.kind, step.node_id) for step in found]


def wake(state: MemoryState, now_ms: int) -> Effects:
    due, ident, node, _ = timers(state)[0]
    signal = Signal(type="wake", execution_id=ident, node_id=node, at=AT, due_ms=due)
    return handle(state, signal, now_ms)


def attempted(state: MemoryState, outcome: Outcome, **fields: Any) -> Effects:
    due, ident, node, timer = timers(state)[0]
    signal = Signal(type="attempted", execution_id=ident, node_id=node, at=AT, due_ms=due,
                    attempt=timer.attempt, outcome=outcome, **fields)  # fmt: skip
    return handle(state, signal)


def stats(state: MemoryState) -> dict[str, Any]:
    return orjson.loads(state.tables["stats"][b"wf"])


def test_a_command_starts_one_execution_waiting_from_its_own_time() -> None:
    state = MemoryState()
    effects = handle(state, event_command(DELAY_THEN_HOOK), now_ms=AT_MS + 3_600_000)
    assert steps(effects) == [("started", ""), ("entered", "d"), ("waiting", "d")]
    assert [(due, node) for due, _, node, _ in timers(state)] == [(AT_MS + 2000, "d")]
    assert effects.started == 1
    again = handle(state, event_command(DELAY_THEN_HOOK))
    assert again.records == [] and again.started == 0 and len(state.tables["executions"]) == 1
    republished = handle(state, event_command(DELAY_THEN_HOOK, version=2))  # replayed, later
    assert republished.started == 0 and len(state.tables["executions"]) == 1
    assert stats(state)["executions_count"] == 1


def test_a_wake_before_its_due_time_does_nothing_and_at_it_enters_the_webhook() -> None:
    state = MemoryState()
    handle(state, event_command(DELAY_THEN_HOOK))
    assert wake(state, AT_MS + 1999).records == []
    effects = wake(state, AT_MS + 2000)
    assert steps(effects) == [("succeeded", "d"), ("entered", "h"), ("waiting", "h")]
    [(key, timer)] = effects.sends
    assert parse_timer_key(key)[0] == AT_MS + 2000  # entered at the delay's due time
    assert timer.delivery is not None and orjson.loads(timer.delivery.body) == {"a": "1"}


def test_delivered_finishes_and_a_repeated_outcome_is_ignored() -> None:
    state = MemoryState()
    handle(state, event_command(DELAY_THEN_HOOK))
    wake(state, AT_MS + 2000)
    due, ident, node, _ = timers(state)[0]
    signal = Signal(type="attempted", execution_id=ident, node_id=node, at=AT, due_ms=due,
                    attempt=1, outcome="delivered", status=204)  # fmt: skip
    effects = handle(state, signal)
    assert ("finished", "") in steps(effects)
    assert execution(state) is None and state.tables["running"] == {} and timers(state) == []
    assert handle(state, signal).records == []
    assert stats(state)["nodes"]["h"] == {"entered": 1, "succeeded": 1, "failed": 0, "waiting": 0}


def test_a_retry_is_a_timer_and_the_last_failure_a_dead_letter_that_replays() -> None:
    state = MemoryState()
    handle(state, event_command(template(HOOK, edges=["s-h"])))
    retry_at = AT_MS + 5000
    attempted(state, "retry", status=500, retry_at_ms=retry_at)
    [(due, _, _, timer)] = timers(state)
    assert (due, timer.attempt) == (retry_at, 2)
    effects = attempted(state, "failed", status=404)
    [letter] = [
        DeadLetter.model_validate_json(v) for t, _, v in effects.records if t == topics.DEAD_LETTER
    ]
    assert letter.reason == "webhook_failed" and letter.topic == topics.WORKFLOW_SIGNALS
    assert execution(state) is None and stats(state)["nodes"]["h"]["failed"] == 1
    resend = Signal.model_validate_json(letter.payload)
    handle(state, resend, now_ms=AT_MS + 10_000)
    [(_, _, _, replay)] = timers(state)
    assert replay.replay and replay.delivery == timer.delivery
    attempted(state, "delivered", status=200)
    assert timers(state) == []


def test_a_stop_event_during_the_delay_ends_it_and_its_wake_does_nothing() -> None:
    state = MemoryState()
    handle(state, event_command(DELAY_THEN_HOOK))
    due, ident, node, _ = timers(state)[0]
    stop = event_command(DELAY_THEN_HOOK, request="ev-2", starts=[], workflow_ids=["wf"])
    assert ("stopped", "") in steps(handle(state, stop))
    assert timers(state) == [] and execution(state) is None
    late = Signal(type="wake", execution_id=ident, node_id=node, at=AT, due_ms=due)
    assert handle(state, late, AT_MS + 5000).records == []
    assert stats(state)["nodes"]["d"]["waiting"] == 0


def test_the_apis_stop_matches_the_stop_event_and_the_filters() -> None:
    state = MemoryState()
    for request, plan in (("a", "pro"), ("b", "free")):
        tpl = template(HOOK, edges=["s-h"], data={"plan": plan})
        handle(state, event_command(tpl, request=request))
    stop = Command(type="stop", request_id="r", project_id="p1", environment="live",
                   user_key="main", at=AT, stop_event="unsubscribed",
                   filters={"plan": "pro"})  # fmt: skip
    handle(state, stop)
    assert execution(state, "a") is None and execution(state, "b") is not None


def test_running_executions_keep_their_snapshot_when_a_new_version_starts() -> None:
    state = MemoryState()
    handle(state, event_command(DELAY_THEN_HOOK))
    edited = template({"id": "d", "type": "Delay", "delay_n": 1, "delay_unit": "hour"},
                      edges=["s-d"])  # fmt: skip
    handle(state, event_command(edited, version=2, request="ev-2"))
    effects = wake(state, AT_MS + 2000)  # the old execution's delay, then its webhook
    assert steps(effects)[-1] == ("waiting", "h")


def test_fan_out_runs_both_branches_and_a_joined_node_once() -> None:
    hook2 = HOOK | {"id": "h2"}
    join = HOOK | {"id": "j"}
    state = MemoryState()
    effects = handle(
        state, event_command(template(HOOK, hook2, join, edges=["s-h", "s-h2", "h-j", "h2-j"]))
    )
    assert sorted(node for _, _, node, _ in timers(state)) == ["h", "h2"]
    assert len(effects.sends) == 2
    attempted(state, "delivered", status=200)
    attempted(state, "delivered", status=200)
    assert [node for _, _, node, _ in timers(state)] == ["j"]


def test_the_merged_data_is_template_then_execution_data() -> None:
    state = MemoryState()
    tpl = template(HOOK | {"params": "plan: {{ plan }}\nname: {{ name }}"}, edges=["s-h"],
                   data={"plan": "free", "name": "template"})  # fmt: skip
    effects = handle(state, event_command(tpl, execution_data={"name": "event"}))
    [(_, timer)] = effects.sends
    assert timer.delivery is not None
    assert orjson.loads(timer.delivery.body) == {"plan": "free", "name": "event"}


def test_day_delays_use_the_zone_and_minute_of_day() -> None:
    state = MemoryState()
    tpl = template({"id": "d", "type": "Delay", "delay_n": 1, "delay_unit": "day",
                    "minute_of_day": 570}, edges=["s-d"])  # fmt: skip
    Executor(ZoneInfo("Europe/Berlin")).handle(state, KEY, event_command(tpl), AT_MS)
    [(due, _, _, _)] = timers(state)
    assert datetime.fromtimestamp(due / 1000, UTC) == AT + timedelta(hours=20, minutes=30)


def test_an_ended_execution_is_remembered_for_a_while_then_forgotten() -> None:
    state = MemoryState()
    handle(state, event_command(template(HOOK, edges=["s-h"])))
    attempted(state, "delivered", status=200)
    [(due, ident, node, timer)] = timers(state, forget=True)
    assert (timer.kind, due) == ("forget", AT_MS + 7 * 86_400_000)
    assert handle(state, event_command(template(HOOK, edges=["s-h"]))).started == 0
    handle(state, Signal(type="wake", execution_id=ident, node_id=node, at=AT, due_ms=due), due)
    assert state.tables["executions"] == {} and timers(state, forget=True) == []
