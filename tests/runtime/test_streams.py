"""The faust workers' exit policy: a record the producer gave up on, or an agent failing, stops
the worker before the offset of the record can be committed; and their group membership, from
the Kafka settings."""

import asyncio
from pathlib import Path

import pytest
from aiokafka.errors import KafkaTimeoutError

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
