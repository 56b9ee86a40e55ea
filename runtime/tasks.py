"""Small asyncio helpers shared by the components' lifecycles."""

import asyncio
import logging
from typing import Any

__all__ = ["cancel_and_wait"]

log = logging.getLogger(__name__)


async def cancel_and_wait(task: "asyncio.Task[Any] | None") -> None:
    """Cancel a background task and wait until it has finished.

    A task that had already failed does not raise here (its failure is logged), so a `stop()`
    that calls this goes on to release its other resources.
    """
    if task is None:
        return
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("background task had failed", extra={"task": task.get_name()}, exc_info=error)
