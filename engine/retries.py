"""When a failed webhook attempt is tried again, if ever: a decision, not a sleep.

The engine schedules a retry as a timer at the time `RetryPolicy.next_attempt_at` returns, so a
worker restart or a slow receiver never holds a coroutine for hours (PostHog learned the same:
"a retry is a scheduled job, never a sleep"). The policy:

- Retried: no response at all (a network error, a timeout: the request may never have arrived),
  408 Request Timeout, 429 Too Many Requests, and 500, 502, 503, 504 (the server or a proxy in
  front of it failing for now). Every other status is final: any other 4xx says the request
  itself is wrong and will be as wrong next time, and 501 Not Implemented will stay so. 410 Gone
  is final too: the receiver says the endpoint was removed for good, and Standard Webhooks tells
  senders to stop (disable the endpoint) on 410 rather than spend the remaining attempts on it.
- Back-off: exponential with the upper half jittered, `min(cap, base * 2**(attempt-1))` times a
  uniform factor in [0.5, 1]. Doubling spreads a long outage over few attempts; the jitter keeps
  a burst of failures from coming back as a burst; the lower half keeps a retry from following
  its failure at once.
- `Retry-After` (delta-seconds or an HTTP-date, RFC 9110 section 10.2.3) replaces the back-off
  and is honoured exactly, up to `retry_after_cap_s` (PostHog: 5 minutes): a receiver asking for
  a day does not park a delivery for a day. A `Retry-After` that cannot be read is ignored, and a
  date already past means "now".
- `max_attempts` counts every attempt, the first included; after the last the caller sets the
  delivery aside as a dead letter.
"""

import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DELTA_SECONDS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a webhook delivery is tried again (rules in the module doc)."""

    max_attempts: int  # attempts in all, the first included
    base_s: float  # the first back-off, before the second attempt
    cap_s: float  # the longest back-off
    retry_after_cap_s: float  # a longer Retry-After is cut to this

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("base_s", "cap_s"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a finite number > 0, got {getattr(self, name)}")
        if not 0 <= self.retry_after_cap_s < math.inf:
            raise ValueError(f"retry_after_cap_s must be finite, >= 0: {self.retry_after_cap_s}")

    def retryable(self, status: int | None) -> bool:
        """Whether an attempt that ended with `status` (None: no response) may be tried again."""
        return status is None or status in RETRYABLE_STATUSES

    def next_attempt_at(
        self, attempt: int, ended_at: datetime, retry_after: str | None, rng: random.Random
    ) -> datetime | None:
        """When to make the attempt after `attempt` (1 for the first), which ended at `ended_at`
        with a retryable failure; None when it was the last one allowed. `rng` draws the jitter
        (the caller's, so tests can seed it)."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        if attempt >= self.max_attempts:
            return None
        asked = parse_retry_after(retry_after, ended_at)
        if asked is not None:
            return ended_at + timedelta(seconds=min(asked, self.retry_after_cap_s))
        return ended_at + timedelta(seconds=self._step(attempt) * rng.uniform(0.5, 1.0))

    def _step(self, attempt: int) -> float:
        """`min(cap, base * 2**(attempt-1))`, without raising the power past the cap: 2**n as a
        float overflows for a large attempt count, and the cap is reached long before."""
        if attempt - 1 >= math.log2(self.cap_s / self.base_s):
            return self.cap_s
        return self.base_s * 2 ** (attempt - 1)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """The seconds a `Retry-After` header value asks to wait from `now` (aware): delta-seconds
    (ASCII digits only; a huge number is inf, which the policy caps) or an HTTP-date in any of
    RFC 9110's three formats, taken as UTC when it names no zone. None when absent or not
    readable; 0 for a date already past, never negative."""
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a year or zone of 30 digits
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # asctime dates and "-0000" carry no zone: UTC
    return max(0.0, (when - now).total_seconds())
