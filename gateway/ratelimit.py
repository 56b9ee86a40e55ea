"""Per-project rate limits: a token bucket per project, refilled continuously.

Each gateway process enforces its share (the project's rate divided by the worker count), so the
limit holds across workers without shared state; across several gateway hosts it is per host.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import RateLimited

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`take(project, n, rate)` spends n events of the project's budget, or raises RateLimited."""

    def __init__(
        self, burst_s: float, share: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst_s = burst_s
        self._share = share
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, project_id: str, n: int, rate_per_s: float) -> None:
        if rate_per_s <= 0:
            return
        rate = rate_per_s * self._share
        capacity = max(rate * self._burst_s, 1.0)
        now = self._clock()
        bucket = self._buckets.get(project_id)
        if bucket is None:
            bucket = self._buckets[project_id] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if n > bucket.tokens:
            wait = (min(n, capacity) - bucket.tokens) / rate
            raise RateLimited.at(
                "project", f"over {rate_per_s:g} events/s", retry_after=max(1, math.ceil(wait))
            )
        bucket.tokens -= n
