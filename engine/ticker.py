"""Finds due timers and fires them: a wake signal for a Delay, an attempt for a webhook.

Every `tick_ms` the ticker reads each active partition's `timers` store: keys start with the
big-endian due time, so the due timers are a prefix and the scan stops at the first one not due.
It never changes state (faust allows table writes only inside stream iteration); the engine's
agent does, when the wake or the attempt's outcome comes back through the log. A fired timer
stays in the store until then, so the ticker remembers what it fired:

- while its work runs (a signal being produced, an attempt waiting for a connection slot or for
  its receiver), it is not fired again, however long that takes under load;
- once its signal is on the log, the agent will delete the timer (`settled`, called from the
  agent's writes); only if the timer is still there `refire_s` later (an anomaly: a signal the
  agent set aside) is it fired again;
- if its signal could not be produced, it is forgotten at once and fires on the next tick.

A scan starts from a per-partition cursor, not from the store's first key: every key before the
cursor is fired and remembered, or gone. The agent's writes move the cursor back when they put a
timer before it (`timer_set`: a webhook due at once, a replay's timer from the past), and a
forgotten fire moves it back to that timer. So a tick reads the timers it may fire, not the
thousands in flight under load. Nothing is read while faust recovers or rebalances: a store being
rebuilt from its changelog would show timers that are already answered; afterwards, and whenever
the worker's partitions change, every scan starts from the store's first key again. What was
fired before stays remembered: its signal is on the log, or it is still in flight.

At most `fire_rate` timers fire per second, so a backlog after downtime (every timer overdue)
fires at once but at a steady rate.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from faust.types import TableT
from prometheus_client import Histogram

from engine.state import Timer, parse_timer_key
from runtime.streams import iterate_from, partition_store
from runtime.tasks import BackgroundTask, Lifecycle

__all__ = ["Fire", "Ticker"]

log = logging.getLogger(__name__)

Fire = Callable[[int, bytes, Timer], Awaitable[bool]]
"""Fire a timer (partition, timer key, timer): True once its signal is on the log (or none is
needed any more), False if it could not be produced."""

_IN_FLIGHT = -1.0


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
        self._fired: dict[bytes, float] = {}  # key -> when its signal was produced, oldest first
        self._cursors: dict[int, bytes] = {}  # partition -> the first key a scan must read
        self._work: set[asyncio.Task[None]] = set()
        self._active: set[int] = set()
        self._task = BackgroundTask(self._run, "engine-ticker")

    async def start(self) -> None:
        await self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        for task in list(self._work):
            task.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            if self._paused():  # stores being rebuilt, partitions moving: scan them anew after
                self._cursors.clear()
            else:
                self.tick(int(time.time() * 1000))

    def timer_set(self, partition: int, key: bytes) -> None:
        """The agent put a timer: the next scan of its partition must not start after it."""
        cursor = self._cursors.get(partition)
        if cursor is not None and key < cursor:
            self._cursors[partition] = key

    def settled(self, key: bytes) -> None:
        """The agent deleted a timer: nothing left to remember of it."""
        self._fired.pop(key, None)

    def fire_now(self, partition: int, key: bytes, timer: Timer) -> None:
        """Fire a timer the agent has just made due at once (a webhook entered), without waiting
        for the next tick; remembered like the others, so the tick does not fire it again."""
        self._launch(partition, key, timer)

    def tick(self, now_ms: int) -> int:
        """Fire what is due at `now_ms`, up to this tick's share of the rate; how many fired."""
        self._forget_produced_before(time.monotonic() - self._refire_s)
        budget, active = self._per_tick, set(self._partitions())
        if active != self._active:  # a store may be new or rebuilt: scan it from its start
            self._cursors.clear()
            self._active = active
        for partition in sorted(active):
            budget -= self._tick_partition(partition, now_ms, budget)
            if budget <= 0:
                break
        return self._per_tick - budget

    def _tick_partition(self, partition: int, now_ms: int, budget: int) -> int:
        fired, resume = 0, self._cursors.get(partition)
        for key, value in iterate_from(partition_store(self._timers, partition), resume):
            resume = key
            due_ms = parse_timer_key(key)[0]
            if due_ms > now_ms or fired >= budget:
                break
            if key in self._fired:
                resume = key + b"\x00"  # the smallest key after it
                continue
            self._lateness.observe(max(0, now_ms - due_ms) / 1000)
            self._launch(partition, key, Timer.decode(value))
            resume = key + b"\x00"
            fired += 1
        if resume is not None:
            self._cursors[partition] = resume
        return fired

    def _launch(self, partition: int, key: bytes, timer: Timer) -> None:
        self._fired.pop(key, None)
        self._fired[key] = _IN_FLIGHT
        task = asyncio.create_task(self._fire_and_note(partition, key, timer))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _fire_and_note(self, partition: int, key: bytes, timer: Timer) -> None:
        try:
            produced = await self._fire(partition, key, timer)
        except Exception:
            log.exception("firing a timer failed", extra={"timer": key.hex()})
            produced = False
        if key not in self._fired:
            return  # settled meanwhile, or forgotten by a rebalance
        if produced:
            del self._fired[key]  # re-inserted at the end: the dict stays ordered by time
            self._fired[key] = time.monotonic()
        else:
            self._forget(partition, key)

    def _forget(self, partition: int, key: bytes) -> None:
        """Fire it again on the next tick."""
        self._fired.pop(key, None)
        self.timer_set(partition, key)

    def _forget_produced_before(self, moment: float) -> None:
        """Forget fires whose signal was produced before `moment` (the oldest come first) and
        rewind every cursor, so such a timer, if still there, fires again. One in flight stops
        the walk: it is not older than the ones behind it by much (an attempt's timeout)."""
        forgot = False
        while self._fired:
            key, at = next(iter(self._fired.items()))
            if at == _IN_FLIGHT or at >= moment:
                break
            del self._fired[key]
            forgot = True
        if forgot:
            self._cursors.clear()
