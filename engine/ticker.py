"""Finds due timers and fires them: a wake signal for a Delay, an attempt for a webhook.

Every `tick_ms` the ticker reads each active partition's `timers` store from its first key: keys
start with the big-endian due time, so the due timers are a prefix and the scan stops at the
first one not due. It never changes state (faust allows table writes only inside stream
iteration); the engine's agent does, when the wake or the attempt's outcome comes back through the
log. A timer fired stays in the store until then, so the ticker remembers what it fired and fires
it again only if it is still there after `_REFIRE_S` (a signal lost with a crashed producer).

At most `fire_rate` timers fire per second, so a backlog after downtime (every timer overdue)
fires at once but at a steady rate. Nothing is read while faust recovers or rebalances: a store
being rebuilt from its changelog would show timers that are already answered.
"""

import asyncio
import time
from collections.abc import Callable, Iterable

from faust.types import TableT
from prometheus_client import Histogram

from engine.state import Timer, parse_timer_key
from runtime.streams import iterate_from, partition_store
from runtime.tasks import BackgroundTask, Lifecycle

__all__ = ["Ticker"]

Fire = Callable[[int, bytes, Timer], None]  # partition, timer key, timer


class Ticker(Lifecycle):
    def __init__(
        self,
        timers: TableT[bytes, bytes],
        partitions: Callable[[], Iterable[int]],
        paused: Callable[[], bool],
        fire: Fire,
        tick_ms: int,
        fire_rate: int,
        refire_s: float,
        lateness: Histogram,
    ) -> None:
        self._timers, self._partitions, self._paused, self._fire = timers, partitions, paused, fire
        self._tick_s = tick_ms / 1000
        self._per_tick = max(1, int(fire_rate * self._tick_s))
        self._refire_s = refire_s
        self._lateness = lateness
        self._fired: dict[bytes, float] = {}  # timer key -> when fired (monotonic), oldest first
        self._task = BackgroundTask(self._run, "engine-ticker")

    async def start(self) -> None:
        await self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            if not self._paused():
                self.tick(int(time.time() * 1000))

    def fire_now(self, partition: int, key: bytes, timer: Timer) -> None:
        """Fire a timer the agent has just made due at once (a webhook entered), without waiting
        for the next tick; remembered like the others, so the tick does not fire it again."""
        self._remember(key, time.monotonic())
        self._fire(partition, key, timer)

    def tick(self, now_ms: int) -> int:
        """Fire what is due at `now_ms`, up to this tick's share of the rate; how many fired."""
        now = time.monotonic()
        self._forget_fired_before(now - self._refire_s)
        budget = self._per_tick
        for partition in sorted(self._partitions()):
            budget -= self._tick_partition(partition, now_ms, now, budget)
            if budget <= 0:
                break
        return self._per_tick - budget

    def _tick_partition(self, partition: int, now_ms: int, now: float, budget: int) -> int:
        fired = 0
        for key, value in iterate_from(partition_store(self._timers, partition), None):
            due_ms = parse_timer_key(key)[0]
            if due_ms > now_ms or fired >= budget:
                break
            if key in self._fired:
                continue
            self._remember(key, now)
            self._lateness.observe(max(0, now_ms - due_ms) / 1000)
            self._fire(partition, key, Timer.decode(value))
            fired += 1
        return fired

    def _remember(self, key: bytes, at: float) -> None:
        self._fired.pop(key, None)  # re-inserted at the end: the dict stays ordered by time
        self._fired[key] = at

    def _forget_fired_before(self, moment: float) -> None:
        """Drop what was fired before `moment` (the oldest come first), so a timer still there
        then fires again: its signal was lost with a crashed producer."""
        while self._fired:
            key, at = next(iter(self._fired.items()))
            if at >= moment:
                return
            del self._fired[key]
