"""The engine's guarantees, against the real broker, the real engine process (SIGKILLed and
restarted) and the receiver we ship: every webhook arrives, never before its due time, once in
effect; retries follow the schedule; the last failure is a dead letter `dlq replay` delivers; a
stop wins over a timer or a retry; a repeated command starts nothing new."""

import asyncio
import time
import uuid
from datetime import datetime, timedelta

import orjson

from engine.state import execution_id
from engine.webhooks import delivery_id
from schemas import topics
from schemas.dead_letter import DeadLetter
from tests.engine.live import (
    hook_template,
    receiving,
    record,
    start_command,
    stop_event_command,
)
from tests.helpers import eventually, read_topic_until, run_headwater
from tests.kafka import group_lag
from tests.pipeline import ENGINE_GROUP, Pipeline
from tests.services import free_port

EXECUTIONS = 1000
COMMANDS_AND_SIGNALS = (topics.WORKFLOW_COMMANDS, topics.WORKFLOW_SIGNALS)


def _kafka(pipeline: Pipeline) -> str:
    return pipeline.env["KAFKA_BOOTSTRAP"]


def _arrivals(delivery: dict) -> list[datetime]:
    return [datetime.fromisoformat(at) for at in delivery["arrivals"]]


def _wait_until_idle(pipeline: Pipeline) -> None:
    """Until the engine has committed every command and signal: a test that times retries must
    not queue behind another test's backlog (the 1,000 outcomes of the SIGKILL test take the
    engine's one agent a few seconds after the last webhook arrived)."""

    def idle() -> bool:
        lag = group_lag(_kafka(pipeline), ENGINE_GROUP, *COMMANDS_AND_SIGNALS)
        return asyncio.run(lag) == 0

    eventually(idle, timeout=120, what="the engine to take in every command and signal")


def test_a_sigkilled_engine_loses_no_timer_and_fires_none_early(pipeline: Pipeline) -> None:
    with receiving(pipeline.env, pipeline.data_dir) as receiver:
        template = hook_template(receiver.url, delay_s=2, params="n: {{ n }}")
        commands = [
            start_command(template, {"n": n}, person=f"kill-{n % 37}") for n in range(EXECUTIONS)
        ]
        due = {c.request_id: c.at + timedelta(seconds=2) for c in commands}
        record(_kafka(pipeline), commands)
        time.sleep(1.0)  # the engine is taking them in; their delays run
        pipeline.kill("engine")
        time.sleep(3.0)  # every delay is past due while no engine runs
        pipeline.start("engine")
        seen = receiver.wait_for(EXECUTIONS, timeout=120)
    ids = {delivery_id(execution_id("wf-engine-tests", c.request_id), "hook"): c for c in commands}
    assert set(seen) == set(ids)
    for ident, delivery in seen.items():
        assert delivery["effects"] == 1
        assert min(_arrivals(delivery)) >= due[ids[ident].request_id], "fired early"
    attempts = sum(d["attempts"] for d in seen.values())
    print(f"{EXECUTIONS} webhooks after a SIGKILL: {attempts} attempts in all")


def test_retries_follow_the_schedule_and_land_once(pipeline: Pipeline) -> None:
    # 500; 429 with Retry-After: 1; a hang past the 1 s timeout; then served.
    _wait_until_idle(pipeline)
    with receiving(pipeline.env, pipeline.data_dir, script="500,429:1,hang:3") as receiver:
        command = start_command(hook_template(receiver.url), {"n": 1}, person="retry")
        record(_kafka(pipeline), [command])
        [delivery] = receiver.wait_for(1, timeout=30).values()
    assert delivery["attempts"] == 4 and delivery["effects"] == 1
    a1, a2, a3, a4 = _arrivals(delivery)
    slack = 0.6  # the log's round trips and the ticker's 100 ms
    assert 0.25 <= (a2 - a1).total_seconds() <= 0.5 + slack  # base 0.5 s, jitter 0.5-1
    assert 1.0 <= (a3 - a2).total_seconds() <= 1.0 + slack  # Retry-After: 1, honoured
    assert 1.0 + 1.0 <= (a4 - a3).total_seconds() <= 1.0 + 2.0 + slack  # timeout, then 1-2 s


def test_a_receiver_down_throughout_leaves_a_dead_letter_that_replay_delivers(
    pipeline: Pipeline,
) -> None:
    port = free_port()  # nothing listens: every attempt is refused
    command = start_command(hook_template(f"http://127.0.0.1:{port}"), {"n": 2}, person="down")
    record(_kafka(pipeline), [command])
    ident = execution_id("wf-engine-tests", command.request_id)

    def ours(letter_record) -> bool:  # type: ignore[no-untyped-def]
        letter = DeadLetter.model_validate_json(letter_record.value)
        return letter.reason == "webhook_failed" and ident in letter.payload

    letter = DeadLetter.model_validate_json(
        read_topic_until(_kafka(pipeline), topics.DEAD_LETTER, ours, timeout=30).value
    )
    assert letter.detail.startswith("attempt 4")
    with receiving(pipeline.env, pipeline.data_dir, port=port) as receiver:
        run_headwater("dlq", "replay", "--reason", "webhook_failed", "--yes", env=pipeline.env)
        seen = receiver.wait_for(1, timeout=30)
    assert delivery_id(ident, "hook") in seen


def test_a_stop_event_during_the_delay_means_the_webhook_is_never_sent(
    pipeline: Pipeline,
) -> None:
    with receiving(pipeline.env, pipeline.data_dir) as receiver:
        person = f"stopped-{uuid.uuid4().hex[:6]}"
        stopped = start_command(hook_template(receiver.url, delay_s=2), {"n": 3}, person=person)
        control = start_command(hook_template(receiver.url, delay_s=2), {"n": 4}, person="goes-on")
        record(_kafka(pipeline), [stopped, control])
        record(_kafka(pipeline), [stop_event_command(person)])
        seen = receiver.wait_for(1, timeout=30)
        time.sleep(2.0)  # anything that would still come
        bodies = [orjson.loads(orjson.dumps(d["body"])) for d in receiver.deliveries().values()]
    assert bodies == [{"n": 4}], seen


def test_a_stop_between_retries_means_no_further_attempt(pipeline: Pipeline) -> None:
    _wait_until_idle(pipeline)
    with receiving(pipeline.env, pipeline.data_dir, script="500") as receiver:
        person = f"race-{uuid.uuid4().hex[:6]}"
        record(
            _kafka(pipeline), [start_command(hook_template(receiver.url), {"n": 5}, person=person)]
        )
        eventually(lambda: receiver.deliveries(), timeout=20, what="the first attempt")
        record(_kafka(pipeline), [stop_event_command(person)])  # the retry is 0.25-0.5 s away
        time.sleep(3.0)
        [delivery] = receiver.deliveries().values()
    assert delivery["attempts"] == 1 and delivery["effects"] == 0


def test_the_same_command_twice_starts_one_execution(pipeline: Pipeline) -> None:
    with receiving(pipeline.env, pipeline.data_dir) as receiver:
        command = start_command(hook_template(receiver.url), {"n": 6}, person="twice")
        record(_kafka(pipeline), [command, command])
        receiver.wait_for(1, timeout=30)
        time.sleep(1.5)
        [delivery] = receiver.deliveries().values()
    assert delivery["attempts"] == 1 and delivery["effects"] == 1
