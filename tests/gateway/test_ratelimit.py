"""Per-project token buckets: bursts, refill, and the Retry-After they compute."""

import pytest

from gateway.errors import RateLimited
from gateway.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_refusal_with_retry_after_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(burst_s=2, clock=clock)
    limiter.take("p", 20, rate_per_s=10)  # the whole burst
    with pytest.raises(RateLimited) as caught:
        limiter.take("p", 5, rate_per_s=10)
    assert caught.value.retry_after == 1
    clock.now = 0.5
    limiter.take("p", 5, rate_per_s=10)


def test_projects_have_separate_buckets_and_zero_means_unlimited() -> None:
    limiter = RateLimiter(burst_s=1, clock=Clock())
    limiter.take("a", 10, rate_per_s=10)
    limiter.take("b", 10, rate_per_s=10)
    limiter.take("c", 10**9, rate_per_s=0)


def test_each_worker_enforces_its_share() -> None:
    limiter = RateLimiter(burst_s=1, share=0.5, clock=Clock())
    limiter.take("p", 5, rate_per_s=10)
    with pytest.raises(RateLimited):
        limiter.take("p", 1, rate_per_s=10)
