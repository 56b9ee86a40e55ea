"""A record the producer gave up on, or an agent failing, stops the worker before the offset of
the record can be committed."""

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError

from processors import app


def _delivery(error: Exception | None) -> "asyncio.Future[object]":
    loop = asyncio.new_event_loop()
    future: asyncio.Future[object] = loop.create_future()
    loop.close()  # a future keeps its outcome without a running loop
    if error is None:
        future.set_result(object())
    else:
        future.set_exception(error)
    return future


def test_a_failed_delivery_exits_at_once_with_the_tempfail_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(app.os, "_exit", exits.append)
    app.exit_unless_delivered(_delivery(KafkaTimeoutError()))
    assert exits == [app.EXIT_RESTART]


def test_a_delivered_record_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(app.os, "_exit", exits.append)
    app.exit_unless_delivered(_delivery(None))
    assert exits == []


def test_a_failing_agent_exits_at_once_with_the_tempfail_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(app.os, "_exit", exits.append)
    with app.exit_on_failure("headwater.entries"):
        raise RuntimeError("the table's changelog write failed")
    assert exits == [app.EXIT_RESTART]


def test_a_cancelled_agent_is_left_to_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(app.os, "_exit", exits.append)
    with pytest.raises(asyncio.CancelledError), app.exit_on_failure("headwater.process"):
        raise asyncio.CancelledError
    assert exits == []
