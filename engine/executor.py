"""What one record does to the executions of its partition: no faust, no Kafka, no clock.

A `Command` starts executions (one per `Start`, with the template snapshot it carries) or stops
them; a `Signal` says a timer came due (`wake`), a webhook attempt ended (`attempted`) or a dead
letter's delivery is put back (`resend`). `Executor.handle` changes the state and returns the
records to send (history steps, dead letters) and the webhook timers due at once (`Effects`).

Everything follows from the record and the stored state, never from "now": an execution id is
UUIDv5(workflow, request), so a replayed command starts nothing new; a node's times come
from when it was entered (the command's time for the first nodes, a Delay's due time or the
webhook's delivery for the next), so a Delay's due time is the same on every replay; a wake or an
attempt names the timer it answers (due time and attempt), and one that does not match the
execution's state is stale and ignored. The one clock read is the caller's `now_ms`, only to
refuse a wake that came early. A record that finds its work done already (a replay after a
crash) writes the execution's state again unchanged (`engine.state.touch`), for the changelog.
"""

import hashlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import orjson

from engine.delays import due_at
from engine.history import History
from engine.state import (
    Execution,
    Graph,
    State,
    Timer,
    execution_id,
    from_ms,
    index_keys,
    index_prefix,
    template_of,
    timer_key,
    to_ms,
    touch,
)  # fmt: skip
from engine.stats import StatsDelta
from engine.webhooks import render
from schemas.executions import Signal
from schemas.workflows import Command, Start

__all__ = ["ENDED_NODE", "Effects", "Executor"]

ENDED_NODE = "~ended"  # the node id of an ended execution's `forget` timer


@dataclass(slots=True)
class Effects:
    """What handling one record asks of the world, besides the state it changed."""

    records: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # topic, key, value
    sends: list[tuple[bytes, Timer]] = field(default_factory=list)  # webhook timers due now
    started: int = 0  # executions started
    dead_letters: int = 0  # webhooks set aside


class Executor:
    """`zone`: for delays of a day and longer; `keep_ended_ms`: how long an ended execution's
    record stays (a command replayed within it starts nothing), then a `forget` timer drops it."""

    def __init__(self, zone: ZoneInfo, keep_ended_ms: int = 7 * 86_400_000) -> None:
        self._zone, self._keep_ended_ms = zone, keep_ended_ms

    def handle(self, state: State, key: bytes, record: Command | Signal, now_ms: int) -> Effects:
        run = _Run(state, key, self._zone, now_ms, self._keep_ended_ms)
        if isinstance(record, Command):
            run.command(record)
        else:
            run.signal(record)
        run.stats.apply(state)
        return run.effects


class _Run:
    """Handling one record: the state, and what it has changed so far."""

    def __init__(
        self, state: State, key: bytes, zone: ZoneInfo, now_ms: int, keep_ended_ms: int
    ) -> None:
        self.state, self.key, self.zone, self.now_ms = state, key, zone, now_ms
        self.keep_ended_ms = keep_ended_ms
        self.stats = StatsDelta()
        self.effects = Effects()
        self.history = History(self.effects.records)

    def command(self, command: Command) -> None:
        at = to_ms(command.at)
        if command.type == "stop":
            self._stop_matching(command, at)
            return
        for workflow_id in command.workflow_ids if command.type == "event" else ():
            prefix = index_prefix("p", command.project_id, command.environment,
                                  command.user_key, workflow_id)  # fmt: skip
            self._stop_all(prefix, at, f"stop event {command.event}")
        for start in command.starts:
            self._start(command, start, at)

    def signal(self, signal: Signal) -> None:
        if signal.type == "resend":
            assert signal.delivery is not None, "a resend carries its delivery"
            timer = Timer("send", self.key.decode(), 1, signal.delivery, replay=True)
            self._put_timer(self.now_ms, signal.execution_id, signal.node_id, timer)
            return
        assert signal.due_ms is not None, "wake and attempted name their timer"
        tkey = timer_key(signal.due_ms, signal.execution_id, signal.node_id)
        stored = self.state.get("timers", tkey)
        if stored is None or (timer := Timer.decode(stored)).attempt != signal.attempt:
            touch(self.state, signal.execution_id)  # stale: answered, or the execution ended
            return
        if timer.replay:
            self._replayed(tkey, timer, signal)
            return
        if timer.kind == "forget":
            self.state.delete("timers", tkey)
            if self._load(signal.execution_id) is None:  # ended, as it should be
                self.state.delete("executions", signal.execution_id.encode())
            return
        execution = self._load(signal.execution_id)
        if execution is None or signal.node_id not in execution.nodes:
            self.state.delete("timers", tkey)
            return
        if signal.type == "wake":
            if signal.due_ms > self.now_ms:
                return  # early (another worker's clock): the ticker fires it again when due
            self.state.delete("timers", tkey)
            self._succeed(execution, signal.node_id, signal.due_ms)
        else:
            self._attempted(execution, tkey, timer, signal)
        self._save(execution)

    # starting and stopping

    def _start(self, command: Command, start: Start, at: int) -> None:
        ident = execution_id(start.workflow_id, command.request_id)
        if self.state.get("executions", ident.encode()) is not None:
            touch(self.state, ident)  # a replayed command
            return
        template = orjson.dumps(start.template, option=orjson.OPT_SORT_KEYS)
        template_key = f"{start.workflow_id}:{hashlib.sha256(template).hexdigest()[:32]}"
        if self.state.get("templates", template_key.encode()) is None:
            self.state.put("templates", template_key.encode(), template)
        data = start.template.get("data")
        execution = Execution(
            ident, self.key.decode(), command.project_id, command.environment,
            start.workflow_id, start.version, template_key, start.user_key,
            command.user_key if command.type == "event" else None, start.stop_event,
            {**(data if isinstance(data, dict) else {}), **command.execution_data}, at,
        )  # fmt: skip
        for index in index_keys(execution):
            self.state.put("running", index, b"")
        self.stats.started(start.workflow_id)
        self.effects.started += 1
        self.history.step(execution, "started", at)
        graph = Graph(start.template)
        for node_id in graph.starts():
            execution.done.append(node_id)
            self._enter_children(execution, graph, node_id, at)
        self._end_if_idle(execution, at)
        self._save(execution)

    def _stop_matching(self, command: Command, at: int) -> None:
        """The API's stop: the user's executions with that stop event whose data hold the
        filters (each a top-level key of the execution data, compared for equality)."""
        prefix = index_prefix("u", command.project_id, command.environment, command.user_key)
        for index in list(self.state.scan("running", prefix)):
            execution = self._load(orjson.loads(index)[-1])
            if (
                execution is not None
                and execution.stop_event == command.stop_event
                and all(execution.data.get(k) == v for k, v in command.filters.items())
            ):
                self._stop(execution, at, f"stopped through the API ({command.stop_event})")

    def _stop_all(self, prefix: bytes, at: int, why: str) -> None:
        for index in list(self.state.scan("running", prefix)):
            execution = self._load(orjson.loads(index)[-1])
            if execution is not None:
                self._stop(execution, at, why)

    def _stop(self, execution: Execution, at: int, why: str) -> None:
        """Stopped: its timers go, so no node it is at fires, a webhook not yet sent included
        (the sender checks the execution right before each attempt, engine/sender.py)."""
        for node_id, node in execution.nodes.items():
            self.state.delete("timers", timer_key(node["due"], execution.id, node_id))
            self.stats.count(execution.workflow_id, node_id, "waiting", -1)
        execution.nodes.clear()
        self._end(execution, "stopped", at, why)
        self._save(execution)

    # moving through the graph

    def _enter_children(self, execution: Execution, graph: Graph, node_id: str, at: int) -> None:
        for child in graph.children(node_id):
            if child not in execution.done and child not in execution.nodes:
                self._enter(execution, graph, child, at)

    def _enter(self, execution: Execution, graph: Graph, node_id: str, at: int) -> None:
        node = graph.nodes[node_id]
        self.stats.count(execution.workflow_id, node_id, "entered")
        self.history.step(execution, "entered", at, node_id)
        if node.get("type") == "Delay":
            due = to_ms(due_at(from_ms(at), node, self.zone))
            timer = Timer("delay", execution.key)
        elif node.get("type") == "Webhook":
            due, delivery = at, render(node, execution.data, execution.id, execution.project_id)
            timer = Timer("send", execution.key, 1, delivery)
            self.effects.sends.append((timer_key(due, execution.id, node_id), timer))
        else:
            execution.done.append(node_id)
            self._fail(execution, node_id, at, f"cannot run a node of type {node.get('type')!r}")
            return
        execution.nodes[node_id] = {"entered": at, "due": due, "attempt": 1}
        self._put_timer(due, execution.id, node_id, timer)
        self.stats.count(execution.workflow_id, node_id, "waiting")
        self.history.step(execution, "waiting", due, node_id)

    def _succeed(self, execution: Execution, node_id: str, at: int) -> None:
        self._leave(execution, node_id)
        self.stats.count(execution.workflow_id, node_id, "succeeded")
        self.history.step(execution, "succeeded", at, node_id)
        graph = Graph(template_of(self.state, execution))
        self._enter_children(execution, graph, node_id, at)
        self._end_if_idle(execution, at)

    def _fail(self, execution: Execution, node_id: str, at: int, why: str) -> None:
        """The node's branch ends; the execution goes on in its other branches."""
        self.stats.count(execution.workflow_id, node_id, "failed")
        self.history.step(execution, "failed", at, node_id, detail=why)
        self._end_if_idle(execution, at)

    def _leave(self, execution: Execution, node_id: str) -> None:
        execution.nodes.pop(node_id, None)
        execution.done.append(node_id)
        self.stats.count(execution.workflow_id, node_id, "waiting", -1)

    def _end_if_idle(self, execution: Execution, at: int) -> None:
        if not execution.nodes and execution.status == "running":
            self._end(execution, "finished", at, "")

    def _end(self, execution: Execution, status: str, at: int, why: str) -> None:
        for index in index_keys(execution):
            self.state.delete("running", index)
        execution.status, execution.ended_at = status, at  # type: ignore[assignment]
        self.history.step(execution, status, at, detail=why)  # type: ignore[arg-type]
        forget = Timer("forget", execution.key)
        self._put_timer(at + self.keep_ended_ms, execution.id, ENDED_NODE, forget)

    # webhooks

    def _attempted(self, execution: Execution, tkey: bytes, timer: Timer, signal: Signal) -> None:
        self.state.delete("timers", tkey)
        at = to_ms(signal.at)
        self.history.attempt(execution, signal)
        node_id = signal.node_id
        if signal.outcome == "delivered":
            self._succeed(execution, node_id, at)
        elif signal.outcome == "retry" and signal.retry_at_ms is not None:
            attempt = timer.attempt + 1
            execution.nodes[node_id].update(due=signal.retry_at_ms, attempt=attempt)
            retry = Timer("send", timer.key, attempt, timer.delivery)
            self._put_timer(signal.retry_at_ms, execution.id, node_id, retry)
        else:
            self._leave(execution, node_id)
            self._fail(execution, node_id, at, signal.error or f"HTTP {signal.status}")
            self._dead_letter(signal, timer)

    def _replayed(self, tkey: bytes, timer: Timer, signal: Signal) -> None:
        """A dead letter's delivery, sent again: retried like the first, set aside again if it
        fails again; the execution it belonged to has moved on and is not changed."""
        self.state.delete("timers", tkey)
        if signal.outcome == "retry" and signal.retry_at_ms is not None:
            again = Timer("send", timer.key, timer.attempt + 1, timer.delivery, replay=True)
            self._put_timer(signal.retry_at_ms, signal.execution_id, signal.node_id, again)
        elif signal.outcome == "failed":
            self._dead_letter(signal, timer)

    def _dead_letter(self, signal: Signal, timer: Timer) -> None:
        self.history.dead_letter(self.key, signal, timer)
        self.effects.dead_letters += 1

    # state

    def _put_timer(self, due: int, ident: str, node_id: str, timer: Timer) -> None:
        self.state.put("timers", timer_key(due, ident, node_id), timer.encode())

    def _load(self, ident: str) -> Execution | None:
        stored = self.state.get("executions", ident.encode())
        return Execution.decode(stored) if stored is not None else None

    def _save(self, execution: Execution) -> None:
        self.state.put("executions", execution.id.encode(), execution.encode())
