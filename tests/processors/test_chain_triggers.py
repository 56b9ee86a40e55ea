"""The chain's trigger step over dict tables and an in-memory replica: the command an event makes
goes beside it to headwater.workflow-commands, keyed by its resolved person; a repeat makes none,
a record read again makes the same one; the index follows the replica's workflow changes only."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from processors import triggers as trigger_step
from runtime.definitions import Decision, Definitions
from runtime.triggers import TriggerIndex
from schemas import topics
from schemas.event import Event, encode
from schemas.workflows import Change, Command, definition_key
from tests.factories import NOW, make_event
from tests.processors.chain_worker import PARTITION, RawRecord, Worker
from tests.runtime.workflow_definitions import TEMPLATE, apply_workflow, published_workflow


def publish(worker: Worker, workflow: dict[str, Any], **where: Any) -> Decision:
    """A workflow change as the replica applies it, telling its `on_decision`."""
    decision = apply_workflow(worker.replica.state, workflow, **where)
    worker.replica.changes.saw(decision)
    return decision


def command_of(worker: Worker, offset: int, event: Event) -> Command | None:
    outgoing = worker.handle(offset, encode(event))
    assert outgoing[0].topic == topics.EVENTS
    if len(outgoing) == 1:
        return None
    [sent] = outgoing[1:]
    assert (sent.topic, sent.partition, sent.headers) == (topics.WORKFLOW_COMMANDS, None, None)
    command = Command.model_validate_json(sent.value)
    assert sent.key == command.kafka_key()
    return command


def sample(worker: Worker, name: str, **labels: str) -> float:
    where = {"component": "processors", "topic": topics.WORKFLOW_COMMANDS,
             "partition": str(PARTITION)} | labels  # fmt: skip
    return worker.metrics.registry.get_sample_value(f"headwater_{name}_total", where) or 0.0


def test_an_event_that_triggers_a_workflow_is_sent_with_its_command() -> None:
    worker = Worker()
    conditions = {"metrics.amount": {"gte": 3}}  # on the event as split
    publish(worker, published_workflow("w1", trigger_conditions=conditions, stop_event="quit"))
    worker.handed_on(1, make_event(event_id="link", anonymous_id="a1", user_id="u1"))
    later = make_event(event_id="e2", anonymous_id="a1", received_at=NOW + timedelta(seconds=1),
                       properties={"amount": 3})  # fmt: skip
    command = command_of(worker, 2, later)
    assert command is not None
    assert (command.type, command.request_id, command.user_key) == ("event", "e2", "u1")
    assert command.kafka_key() == b'["p1","live","u1"]'  # the person identity resolution found
    [start] = command.starts
    assert (start.workflow_id, start.version, start.template) == ("w1", 1, TEMPLATE)
    assert command.execution_data["event"]["metrics"] == {"amount": 3.0}
    assert command_of(worker, 3, make_event(event_id="e3", properties={"amount": 2})) is None
    assert sample(worker, "workflow_commands", type="event") == 1
    assert sample(worker, "workflow_matches", match="start") == 1
    assert worker.count("events_sent", topics.EVENTS) == 3


def test_a_stop_event_makes_a_command_naming_the_workflows_it_stops() -> None:
    worker = Worker()
    publish(worker, published_workflow("w1", stop_event="quit"))
    command = command_of(worker, 1, make_event(name="quit", user_id="u1"))
    assert command is not None and (command.starts, command.workflow_ids) == ([], ["w1"])
    assert sample(worker, "workflow_matches", match="stop") == 1


def test_a_repeat_makes_no_command_and_a_record_read_again_the_same_one() -> None:
    worker = Worker()
    publish(worker, published_workflow("w1"))
    event = make_event(idempotency_key="once")
    first = worker.handle(1, encode(event))
    assert [o.topic for o in first] == [topics.EVENTS, topics.WORKFLOW_COMMANDS]
    assert worker.handle(2, encode(event)) == []  # a client's retry: dropped, nothing started
    assert worker.handle(1, encode(event)) == first  # the same raw record after a crash


def test_test_workflows_and_drafts_do_not_react_to_the_pipeline() -> None:
    worker = Worker()
    publish(worker, published_workflow("test-key"), environment="test")
    publish(worker, published_workflow("draft", last_published_at=None, version=0))
    assert command_of(worker, 1, make_event()) is None


def test_the_index_follows_the_workflows_the_replica_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[Definitions] = []

    def counted(state: Definitions) -> TriggerIndex:
        builds.append(state)
        return TriggerIndex(state)

    monkeypatch.setattr(trigger_step, "TriggerIndex", counted)
    worker = Worker()
    assert command_of(worker, 1, make_event(event_id="e1", properties={"n": 1})) is None
    builds.clear()
    decision = publish(worker, published_workflow("w1"))
    assert command_of(worker, 2, make_event(event_id="e2", properties={"n": 2})) is not None
    user = Change(op="put", request_id="r-user", at=NOW, object={"key": "u1"})
    user_decision = worker.replica.state.apply(
        definition_key("p1", "live", "user", "u1"), user.encode()
    )
    assert user_decision is not None
    worker.replica.changes.saw(user_decision)  # not a workflow: the index stays
    assert command_of(worker, 3, make_event(event_id="e3", properties={"n": 3})) is not None
    assert len(builds) == 1
    publish(worker, published_workflow("w1", auto_start=False), base=decision.request_id)
    assert command_of(worker, 4, make_event(event_id="e4", properties={"n": 4})) is None
    worker.replica.state = Definitions()  # the replica reads the topic again from the start
    assert command_of(worker, 5, make_event(event_id="e5", properties={"n": 5})) is None
    assert len(builds) == 3


def test_the_chain_waits_for_the_replica_to_catch_up() -> None:
    worker = Worker()
    worker.replica.ready = False

    async def caught_up_meanwhile() -> int:
        handling = asyncio.create_task(worker.chain.handle(RawRecord(1, encode(make_event()))))
        await asyncio.sleep(0.2)
        assert not handling.done()
        publish(worker, published_workflow("w1"))
        worker.replica.ready = True
        return len(await handling)

    assert asyncio.run(caught_up_meanwhile()) == 2  # the event and the command
