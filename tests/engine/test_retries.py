"""engine/retries.py: which failures are retried, the jittered and capped back-off schedule, and
Retry-After in seconds or as an HTTP-date."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.retries import RetryPolicy, parse_retry_after

ENDED = datetime(2025, 11, 6, 8, 49, 37, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=8, base_s=5.0, cap_s=60.0, retry_after_cap_s=300.0)


class Fixed(random.Random):
    """A generator whose uniform draw is always the same fraction of the way from a to b."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def wait(policy: RetryPolicy, attempt: int, rng: random.Random, after: str | None = None) -> float:
    """Seconds from the end of `attempt` to the next one."""
    at = policy.next_attempt_at(attempt, ENDED, after, rng)
    assert at is not None
    return (at - ENDED).total_seconds()


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (None, True),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (410, False),
        (413, False),
        (422, False),
        (501, False),
        (505, False),
        (302, False),
    ],
)
def test_which_failures_are_retried(status: int | None, retryable: bool) -> None:
    assert POLICY.retryable(status) is retryable


def test_the_schedule_doubles_up_to_the_cap() -> None:
    top = [wait(POLICY, attempt, Fixed(1.0)) for attempt in range(1, 8)]
    assert top == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    bottom = [wait(POLICY, attempt, Fixed(0.0)) for attempt in range(1, 8)]
    assert bottom == [2.5, 5.0, 10.0, 20.0, 30.0, 30.0, 30.0]


def test_a_huge_attempt_count_stays_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10**6, base_s=5.0, cap_s=60.0, retry_after_cap_s=300.0)
    assert wait(policy, 5000, Fixed(1.0)) == 60.0


@given(st.integers(1, 7), st.integers(0, 2**32))
def test_jitter_stays_within_half_and_all_of_the_step(attempt: int, seed: int) -> None:
    step = min(60.0, 5.0 * 2 ** (attempt - 1))
    assert step * 0.5 <= wait(POLICY, attempt, random.Random(seed)) <= step


def test_jitter_spreads_the_retries() -> None:
    rng = random.Random(16)
    assert len({wait(POLICY, 3, rng) for _ in range(20)}) == 20


def test_the_last_attempt_has_no_next() -> None:
    assert POLICY.next_attempt_at(7, ENDED, None, Fixed(1.0)) is not None
    assert POLICY.next_attempt_at(8, ENDED, None, Fixed(1.0)) is None
    assert POLICY.next_attempt_at(9, ENDED, "10", Fixed(1.0)) is None
    once = RetryPolicy(max_attempts=1, base_s=5.0, cap_s=60.0, retry_after_cap_s=300.0)
    assert once.next_attempt_at(1, ENDED, None, Fixed(1.0)) is None


def test_retry_after_replaces_the_back_off_exactly_up_to_its_cap() -> None:
    assert wait(POLICY, 1, Fixed(1.0), "120") == 120.0  # longer than the back-off cap: honoured
    assert wait(POLICY, 6, Fixed(1.0), "1") == 1.0  # shorter than the back-off: honoured too
    assert wait(POLICY, 1, Fixed(1.0), "0") == 0.0
    assert wait(POLICY, 1, Fixed(1.0), "86400") == 300.0
    assert wait(POLICY, 1, Fixed(1.0), "9" * 400) == 300.0
    assert wait(POLICY, 1, Fixed(1.0), "Thu, 06 Nov 2025 08:51:37 GMT") == 120.0
    assert wait(POLICY, 1, Fixed(1.0), "Fri, 07 Nov 2025 08:49:37 GMT") == 300.0


def test_an_unreadable_retry_after_leaves_the_back_off() -> None:
    assert wait(POLICY, 2, Fixed(1.0), "soon") == 10.0
    assert wait(POLICY, 2, Fixed(1.0), "-5") == 10.0


def test_the_result_keeps_the_ended_at_zone_and_is_exact() -> None:
    at = POLICY.next_attempt_at(1, ENDED, "7", Fixed(1.0))
    assert at == ENDED + timedelta(seconds=7)
    assert at is not None and at.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("Thu, 06 Nov 2025 08:50:37 GMT", 60.0),  # IMF-fixdate
        ("Thursday, 06-Nov-25 08:50:37 GMT", 60.0),  # RFC 850
        ("Thu Nov  6 08:50:37 2025", 60.0),  # asctime, UTC by definition
        ("Thu, 06 Nov 2025 09:50:37 +0100", 60.0),  # a zone offset, not HTTP's but readable
        ("Thu, 06 Nov 2025 08:49:37 GMT", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),  # past: now, never negative
    ],
)
def test_parse_retry_after(value: str, seconds: float) -> None:
    assert parse_retry_after(value, ENDED) == seconds


@pytest.mark.parametrize(
    "value",
    [
        *(None, "", "soon", "-5", "1.5", "1e3", "²", "12 s", "Mon"),
        "Thu, 31 Feb 2025 08:50:37 GMT",
        "06 Nov 08:49:37 GMT " + "9" * 30,  # a year past any date
        "06 Nov 06 08:49:37 " + "9" * 30,  # a zone offset past any zone
    ],
)
def test_garbage_is_no_retry_after(value: str | None) -> None:
    assert parse_retry_after(value, ENDED) is None


@given(st.text())
def test_parse_retry_after_never_raises_nor_goes_negative(value: str) -> None:
    seconds = parse_retry_after(value, ENDED)
    assert seconds is None or seconds >= 0


@pytest.mark.parametrize(
    "fields",
    [
        (0, 5.0, 60.0, 300.0),
        (3, 0.0, 60.0, 300.0),
        (3, 5.0, float("inf"), 300.0),
        (3, 5.0, 60.0, -1.0),
        (3, 5.0, 60.0, float("nan")),
    ],
)
def test_a_policy_that_cannot_schedule_is_refused(fields: tuple[int, float, float, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(*fields)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        POLICY.next_attempt_at(0, ENDED, None, Fixed(1.0))
