"""Which workflows an event starts or stops, and the command that says so: published `live`
workflows of the event's project with auto_start, its name as their trigger and their conditions
holding; stop events; the person; what the execution gets as data; the template snapshot."""

import uuid
from datetime import timedelta
from typing import Any

from runtime.definitions import Definitions
from runtime.triggers import TriggerIndex, start_of, trigger_of
from schemas.event import UserDataUpdate
from schemas.workflows import Start
from tests.factories import NOW, make_event
from tests.runtime.workflow_definitions import TEMPLATE, apply_workflow, published_workflow


def index_of(*workflows: dict[str, Any], **where: Any) -> TriggerIndex:
    state = Definitions()
    for workflow in workflows:
        apply_workflow(state, workflow, **where)
    return TriggerIndex(state)


def started(index: TriggerIndex, **event: Any) -> list[str]:
    command = index.commands_for(make_event(**event))
    return [start.workflow_id for start in command.starts] if command else []


def test_an_event_starts_the_published_live_auto_start_workflows_its_name_triggers() -> None:
    state = Definitions()
    for workflow_id in ("w2", "w1"):  # any of the project's users
        apply_workflow(state, published_workflow(workflow_id, user_key=f"user-{workflow_id}"))
    apply_workflow(state, published_workflow("other-name", event_trigger="login"))
    apply_workflow(state, published_workflow("manual", auto_start=False))
    apply_workflow(state, published_workflow("draft", last_published_at=None, version=0))
    apply_workflow(state, published_workflow("no-trigger", event_trigger=None))
    apply_workflow(state, published_workflow("test-env"), environment="test")
    apply_workflow(state, published_workflow("other-project"), project="p2")
    index = TriggerIndex(state)
    command = index.commands_for(make_event(name="signup", project_id="p1"))
    assert command is not None
    assert [s.workflow_id for s in command.starts] == ["w1", "w2"]  # in a stable order
    assert [s.user_key for s in command.starts] == ["user-w1", "user-w2"]
    assert (command.type, command.environment, command.workflow_ids) == ("event", "live", [])


def test_nothing_matches_without_a_command() -> None:
    index = index_of(published_workflow("w1"))
    assert index.commands_for(make_event(name="login")) is None
    assert index.commands_for(make_event(project_id="unknown")) is None
    assert TriggerIndex(Definitions()).commands_for(make_event()) is None


def test_the_published_conditions_decide_not_the_draft() -> None:
    workflow = published_workflow(
        "w1", trigger_conditions={"properties.plan": "pro", "person.country": {"in": ["NO"]}}
    ) | {"trigger_conditions_draft": {}}
    index = index_of(workflow)
    pro = {"properties": {"plan": "pro"}, "user_data": UserDataUpdate(set={"country": "NO"})}
    assert started(index, **pro) == ["w1"]
    assert started(index, properties={"plan": "pro"}) == []  # no person property
    assert started(index, **pro | {"properties": {"plan": "free"}}) == []


def test_conditions_see_metrics_dimensions_and_the_person_the_event_sets() -> None:
    conditions = {"metrics.amount": {"gt": 10}, "dimensions.plan.name": "pro",
                  "person.email": {"exists": True}, "person.tier": "gold"}  # fmt: skip
    index = index_of(published_workflow("w1", trigger_conditions=conditions))
    user_data = UserDataUpdate(set_once={"tier": "silver", "email": "a@b"}, set={"tier": "gold"})
    event = {"metrics": {"amount": 11.0}, "dimensions": {"plan.name": "pro"}}
    assert started(index, **event, user_data=user_data) == ["w1"]
    assert started(index, **event) == []


def test_a_stop_event_stops_the_person_s_executions_whatever_auto_start_says() -> None:
    index = index_of(
        published_workflow("w1", stop_event="unsubscribed", auto_start=False),
        published_workflow("w2", event_trigger="unsubscribed", stop_event="unsubscribed"),
        published_workflow("w3", stop_event="unsubscribed") | {"last_published_at": None},
    )
    command = index.commands_for(make_event(name="unsubscribed", user_id="u9"))
    assert command is not None
    assert command.workflow_ids == ["w1", "w2"]  # the draft's stop event does not count
    assert [s.workflow_id for s in command.starts] == ["w2"]
    assert command.user_key == "u9"


def test_the_command_names_the_event_and_its_person() -> None:
    index = index_of(published_workflow("w1", stop_event="cancel"))
    received = NOW + timedelta(seconds=3)
    event = make_event(
        event_id="ev-1", user_id="u1", anonymous_id="a1", person_id="person-1",
        url="https://example.com/join", properties={"plan": "pro"}, metrics={"n": 2.0},
        dimensions={"plan": "pro"}, received_at=received,
        user_data=UserDataUpdate(set_once={"name": "Ann"}, set={"name": "Ann B"}),
    )  # fmt: skip
    command = index.commands_for(event)
    assert command is not None
    assert (command.request_id, command.project_id, command.user_key) == ("ev-1", "p1", "person-1")
    assert (command.at, command.event) == (received, "signup")
    assert command.kafka_key() == b'["p1","live","person-1"]'
    assert command.execution_data == {
        "event": {"id": "ev-1", "name": "signup", "time": "2026-03-04T12:00:00Z",
                  "url": "https://example.com/join", "properties": {"plan": "pro"},
                  "metrics": {"n": 2.0}, "dimensions": {"plan": "pro"}},
        "person": {"id": "person-1", "user_id": "u1", "anonymous_id": "a1",
                   "properties": {"name": "Ann B"}},
    }  # fmt: skip
    assert command.starts == [
        Start(workflow_id="w1", version=1, user_key="u1", template=TEMPLATE, stop_event="cancel")
    ]


def test_the_person_falls_back_to_user_anonymous_identifier_then_event_id() -> None:
    index = index_of(published_workflow("w1"))
    people = [
        ({"user_id": "u1", "anonymous_id": "a1"}, "u1"),
        ({"anonymous_id": "a1", "identifier_value": "ann@example.com"}, "a1"),
        ({"identifier_key": "email", "identifier_value": "ann@example.com"}, "ann@example.com"),
        ({"event_id": "only-an-id"}, "only-an-id"),
    ]
    for fields, person in people:
        command = index.commands_for(make_event(**fields))
        assert command is not None and command.user_key == person, fields
        assert command.execution_data["person"]["id"] == person


def test_a_start_carries_the_published_snapshot_edits_of_the_draft_do_not_reach_it() -> None:
    state = Definitions()
    first = published_workflow("w1")
    published = apply_workflow(state, first)
    before = TriggerIndex(state).commands_for(make_event())
    edited = {"nodes": [{"id": "start", "type": "Start"}], "edges": []}
    drafted = apply_workflow(state, first | {"template_draft": edited}, base=published.request_id)
    command = TriggerIndex(state).commands_for(make_event())
    assert command is not None and command.starts[0].template == TEMPLATE
    republished = first | {"template": edited, "template_draft": edited, "version": 2}
    apply_workflow(state, republished, base=drafted.request_id)
    after = TriggerIndex(state).commands_for(make_event())
    assert after is not None and (after.starts[0].version, after.starts[0].template) == (2, edited)
    assert before is not None and (before.starts[0].version, before.starts[0].template) == (
        1,
        TEMPLATE,
    )


def test_the_same_event_makes_the_same_command() -> None:
    index = index_of(published_workflow("w1"), published_workflow("w2"))
    event = make_event(event_id=uuid.uuid4().hex)
    first, again = index.commands_for(event), index.commands_for(event)
    assert first is not None and again is not None and first.encode() == again.encode()


def test_an_unusable_published_workflow_triggers_nothing_and_breaks_nothing() -> None:
    broken = published_workflow("broken", trigger_conditions={"x": {"op": "equals"}})
    no_template = {k: v for k, v in published_workflow("no-template").items() if k != "template"}
    index = index_of(broken, no_template, published_workflow("fine"))
    assert started(index) == ["fine"]


def test_start_of_a_never_published_workflow_is_its_draft_at_version_0() -> None:
    draft = published_workflow("w1", last_published_at=None, version=0) | {
        "template_draft": {"nodes": [], "edges": []}, "stop_event_draft": "quit",
    }  # fmt: skip
    assert start_of(draft) == Start(
        workflow_id="w1", version=0, user_key="u1", template={"nodes": [], "edges": []},
        stop_event="quit",
    )  # fmt: skip
    assert trigger_of(draft) is None  # a draft starts nothing by itself
    assert trigger_of(published_workflow("w1")) is not None
