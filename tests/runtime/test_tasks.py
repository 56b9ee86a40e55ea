"""The lifecycle helpers: a background task runs from start() to stop(), stop() is idempotent
and never raises a task's own failure, and `async with` only calls start() and stop()."""

import asyncio
import logging

import pytest

from runtime.tasks import BackgroundTask, Lifecycle


def test_a_background_task_runs_until_stopped() -> None:
    ticks: list[int] = []

    async def tick() -> None:
        while True:
            ticks.append(len(ticks))
            await asyncio.sleep(0)

    async def run() -> tuple[bool, bool]:
        task = BackgroundTask(tick, "ticker")
        await task.start()
        await task.start()  # a second start runs it once
        first = task.task
        await asyncio.sleep(0.01)
        await task.stop()
        count = len(ticks)
        await asyncio.sleep(0.01)
        await task.stop()  # idempotent
        return first is not None and first.cancelled(), count == len(ticks) and task.task is None

    cancelled, quiet_after_stop = asyncio.run(run())
    assert cancelled and quiet_after_stop
    assert ticks


def test_stop_logs_a_failed_task_instead_of_raising(caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise RuntimeError("broken loop")

    async def run() -> None:
        task = BackgroundTask(fail, "failing")
        await task.start()
        await asyncio.sleep(0)
        await task.stop()

    with caplog.at_level(logging.ERROR, logger="runtime.tasks"):
        asyncio.run(run())
    [record] = caplog.records
    assert record.getMessage() == "background task had failed"
    assert record.__dict__["task"] == "failing"


def test_async_with_calls_start_and_stop_only() -> None:
    calls: list[str] = []

    class Resource(Lifecycle):
        async def start(self) -> None:
            calls.append("start")

        async def stop(self) -> None:
            calls.append("stop")

    async def run() -> None:
        async with Resource() as resource:
            assert isinstance(resource, Resource)
            calls.append("body")
        with pytest.raises(ValueError):
            async with Resource():
                raise ValueError("inside")

    asyncio.run(run())
    assert calls == ["start", "body", "stop", "start", "stop"]
