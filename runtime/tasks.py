"""One lifecycle for every long-lived object, and a background task with a clean stop.

Everything that connects or runs in the background follows aiokafka's producer and consumer:
`async start()` begins, `async stop()` releases everything and is safe to call twice, and the
async context manager only calls the two (`Lifecycle`). A loop that runs from `start()` to
`stop()` is a `BackgroundTask`, so no class writes its own create-cancel-await dance.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self

__all__ = ["BackgroundTask", "Lifecycle"]

log = logging.getLogger(__name__)


class Lifecycle:
    """`start()` and an idempotent `stop()`; `async with` calls them and nothing else."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


class BackgroundTask(Lifecycle):
    """`run()` as an asyncio task from `start()` until `stop()` cancels it and waits for it.

    A task that had already failed does not raise from `stop()` (its failure is logged), so the
    owner's `stop()` goes on to release its other resources. Starting twice runs it once."""

    def __init__(self, run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._run = run
        self._name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def task(self) -> "asyncio.Task[None] | None":
        """The running task (to watch it end), or None outside `start()` .. `stop()`."""
        return self._task

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("background task had failed", extra={"task": self._name}, exc_info=error)
