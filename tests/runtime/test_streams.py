"""The faust workers' exit policy: a record the producer gave up on, or an agent failing, stops
the worker before the offset of the record can be committed; records handled around faust's
streams let its commit pass them; and their group membership, from the Kafka settings."""

import asyncio
from pathlib import Path

import faust
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

from runtime import streams
from runtime.settings import KafkaSettings


def _delivery(error: Exception | None) -> "asyncio.Future[object]":
    loop = asyncio.new_event_loop()
    future: asyncio.Future[object] = loop.create_future()
    loop.close()  # a future keeps its outcome without a running loop
    if error is None:
        future.set_result(object())
    else:
        future.set_exception(error)
    return future


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The exit codes the worker would have ended with."""
    codes: list[int] = []
    monkeypatch.setattr(streams.os, "_exit", codes.append)
    return codes


def test_a_failed_delivery_exits_at_once_with_the_tempfail_code(exits: list[int]) -> None:
    streams.exit_unless_delivered(_delivery(KafkaTimeoutError()))
    assert exits == [streams.EXIT_RESTART]


def test_a_delivered_record_changes_nothing(exits: list[int]) -> None:
    streams.exit_unless_delivered(_delivery(None))
    assert exits == []


def test_a_failing_agent_exits_at_once_with_the_tempfail_code(exits: list[int]) -> None:
    with streams.exit_on_failure("headwater.entries"):
        raise RuntimeError("the table's changelog write failed")
    assert exits == [streams.EXIT_RESTART]


def test_a_cancelled_agent_is_left_to_faust(exits: list[int]) -> None:
    with pytest.raises(asyncio.CancelledError), streams.exit_on_failure("headwater.raw-to-events"):
        raise asyncio.CancelledError
    assert exits == []


def test_a_worker_takes_its_group_timeouts_from_the_kafka_settings(tmp_path: Path) -> None:
    kafka = KafkaSettings(session_timeout_ms=7_000, heartbeat_interval_ms=500)
    conf = streams.worker_app("timeouts", kafka, tmp_path).conf
    assert (conf.broker_session_timeout, conf.broker_heartbeat_interval) == (7.0, 0.5)
    assert conf.broker_rebalance_timeout == kafka.rebalance_timeout_ms / 1000


COMMANDS = TP("headwater.workflow-commands", 0)


@pytest.fixture
def committed_at_19(tmp_path: Path) -> faust.App:
    """A worker whose group committed offset 19 of `COMMANDS`, and whose stream then
    acknowledged 22 to 30: 19 to 21 were read around faust."""
    app = streams.worker_app("acks", KafkaSettings(), tmp_path)
    app.consumer._committed_offset[COMMANDS] = 19
    streams.acknowledge(app, COMMANDS, 22, 30)
    return app


def test_records_read_around_faust_let_its_commit_pass_them(committed_at_19: faust.App) -> None:
    app = committed_at_19
    assert app.consumer._new_offset(COMMANDS) is None  # the hole holds the commit back
    streams.acknowledge(app, COMMANDS, 19, 21)
    assert app.consumer._new_offset(COMMANDS) == 31


def test_offsets_faust_counted_as_a_gap_are_not_counted_twice(committed_at_19: faust.App) -> None:
    app = committed_at_19
    asyncio.run(app.consumer._add_gap(COMMANDS, 20, 21))  # faust's own record of 20 and 21
    streams.acknowledge(app, COMMANDS, 19, 21)
    streams.acknowledge(app, COMMANDS, 19, 21)
    assert app.consumer._new_offset(COMMANDS) == 31
    assert list(app.consumer._acked[COMMANDS]) == []
