"""engine/delays.py: a Delay node's due time, checked against hand-computed instants (UTC
offsets written out) for each unit, month ends, leap years and DST gaps and overlaps, plus
properties over arbitrary entries and zones."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.delays import due_at
from gateway.workflows.template import DELAY_UNITS, MAX_DELAY_SECONDS

NEW_YORK = ZoneInfo("America/New_York")  # 2025: EDT from Mar 9 02:00, EST from Nov 2 02:00
BERLIN = ZoneInfo("Europe/Berlin")  # 2025: CEST from Mar 30 02:00, CET from Oct 26 03:00
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # +10:30, +11 from Oct 5 2025 02:00 (a 30 min gap)
SHORT_UNITS = ("sec", "min", "hour")


def delay(n: int | str, unit: str, minute: float | None = None) -> dict[str, Any]:
    return {"id": "d", "type": "Delay", "delay_n": n, "delay_unit": unit, "minute_of_day": minute}


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("unit", "n", "due"),
    [
        ("sec", 90, utc(2025, 1, 15, 12, 1, 30)),
        ("min", 90, utc(2025, 1, 15, 13, 30)),
        ("hour", 36, utc(2025, 1, 17)),
        ("day", 3, utc(2025, 1, 18, 12)),
        ("week", 2, utc(2025, 1, 29, 12)),
        ("month", 14, utc(2026, 3, 15, 12)),
        ("year", 3, utc(2028, 1, 15, 12)),
    ],
)
def test_each_unit(unit: str, n: int, due: datetime) -> None:
    assert due_at(utc(2025, 1, 15, 12), delay(n, unit), ZoneInfo("UTC")) == due


def test_the_result_is_utc_whatever_zone_the_entry_is_written_in() -> None:
    entered = datetime(2025, 1, 15, 7, tzinfo=NEW_YORK)  # 12:00 UTC
    due = due_at(entered, delay(1, "hour"), BERLIN)
    assert due == utc(2025, 1, 15, 13)
    assert due.tzinfo is UTC


def test_a_form_string_of_digits_counts_like_an_int() -> None:
    assert due_at(utc(2025, 1, 1), delay("2", "day"), BERLIN) == utc(2025, 1, 3)


@pytest.mark.parametrize("n", ["²", "-1", "1.5", "", " 2", -1, True, 1.0, None])
def test_a_count_that_is_not_a_whole_number_is_refused(n: Any) -> None:
    with pytest.raises(ValueError, match="delay_n"):
        due_at(utc(2025, 1, 1), delay(n, "day"), BERLIN)


def test_an_unknown_unit_and_a_naive_entry_are_refused() -> None:
    with pytest.raises(ValueError, match="delay_unit"):
        due_at(utc(2025, 1, 1), delay(0, "fortnight"), BERLIN)
    with pytest.raises(ValueError, match="aware"):
        due_at(datetime(2025, 1, 1), delay(1, "day"), BERLIN)


@pytest.mark.parametrize(
    ("entered", "n", "unit", "due"),
    [
        (utc(2023, 1, 31, 9), 1, "month", utc(2023, 2, 28, 9)),
        (utc(2024, 1, 31, 9), 1, "month", utc(2024, 2, 29, 9)),  # leap year
        (utc(2025, 3, 31, 9), 1, "month", utc(2025, 4, 30, 9)),
        (utc(2024, 12, 31, 9), 2, "month", utc(2025, 2, 28, 9)),  # across the year end
        (utc(2025, 1, 31, 9), 13, "month", utc(2026, 2, 28, 9)),
        (utc(2025, 2, 28, 9), 1, "month", utc(2025, 3, 28, 9)),  # clamped days do not stick
        (utc(2024, 2, 29, 9), 1, "year", utc(2025, 2, 28, 9)),
        (utc(2024, 2, 29, 9), 4, "year", utc(2028, 2, 29, 9)),
        (utc(2096, 2, 29, 9), 4, "year", utc(2100, 2, 28, 9)),  # 2100 is not a leap year
        (utc(2024, 2, 29, 9), 12, "month", utc(2025, 2, 28, 9)),
        (utc(2024, 2, 28, 9), 1, "day", utc(2024, 2, 29, 9)),
        (utc(2025, 2, 28, 9), 1, "day", utc(2025, 3, 1, 9)),
    ],
)
def test_month_ends_and_leap_years(entered: datetime, n: int, unit: str, due: datetime) -> None:
    assert due_at(entered, delay(n, unit), ZoneInfo("UTC")) == due


@pytest.mark.parametrize(
    ("entered", "n", "unit", "zone", "due"),
    [
        # A day across New York's spring-forward is 23 hours, across its fall-back 25.
        (utc(2025, 3, 8, 14), 1, "day", NEW_YORK, utc(2025, 3, 9, 13)),
        (utc(2025, 11, 1, 13), 1, "day", NEW_YORK, utc(2025, 11, 2, 14)),
        (utc(2025, 10, 26, 13), 1, "week", NEW_YORK, utc(2025, 11, 2, 14)),
        # Berlin: a week across spring-forward, a day across fall-back, a month across both.
        (utc(2025, 3, 24, 9), 1, "week", BERLIN, utc(2025, 3, 31, 8)),
        (utc(2025, 10, 25, 10), 1, "day", BERLIN, utc(2025, 10, 26, 11)),
        (utc(2025, 3, 15, 11), 1, "month", BERLIN, utc(2025, 4, 15, 10)),
        (utc(2025, 10, 15, 10), 1, "month", BERLIN, utc(2025, 11, 15, 11)),
        # Elapsed units ignore DST: 24 hours from 09:00 EST is 10:00 EDT.
        (utc(2025, 3, 8, 14), 24, "hour", NEW_YORK, utc(2025, 3, 9, 14)),
    ],
)
def test_calendar_days_keep_the_wall_clock_across_dst(
    entered: datetime, n: int, unit: str, zone: ZoneInfo, due: datetime
) -> None:
    assert due_at(entered, delay(n, unit), zone) == due


@pytest.mark.parametrize(
    ("entered", "node", "zone", "due"),
    [
        # 02:30 does not exist on the spring-forward day: it moves forward by the gap, to 03:30.
        (utc(2025, 3, 8, 7, 30), delay(1, "day"), NEW_YORK, utc(2025, 3, 9, 7, 30)),
        (utc(2025, 3, 8, 12), delay(1, "day", 150), NEW_YORK, utc(2025, 3, 9, 7, 30)),
        (utc(2025, 3, 29, 12), delay(1, "day", 150), BERLIN, utc(2025, 3, 30, 1, 30)),
        (utc(2025, 3, 29, 1, 30), delay(1, "day"), BERLIN, utc(2025, 3, 30, 1, 30)),
        # 01:30 (New York) and 02:30 (Berlin) happen twice on the fall-back day: the first counts.
        (utc(2025, 11, 1, 5, 30), delay(1, "day"), NEW_YORK, utc(2025, 11, 2, 5, 30)),
        (utc(2025, 11, 1, 12), delay(1, "day", 90), NEW_YORK, utc(2025, 11, 2, 5, 30)),
        (utc(2025, 10, 25, 12), delay(1, "day", 150), BERLIN, utc(2025, 10, 26, 0, 30)),
        (utc(2025, 10, 25, 0, 30), delay(1, "day"), BERLIN, utc(2025, 10, 26, 0, 30)),
        # Entered in the second 01:30 of the fall-back day: 52 weeks later is another fall-back
        # day, and the wall time kept is again the first 01:30.
        (utc(2025, 11, 2, 6, 30), delay(52, "week"), NEW_YORK, utc(2026, 11, 1, 5, 30)),
        # Lord Howe's DST moves the clock by 30 minutes: 02:15 becomes 02:45 (+11:00).
        (utc(2025, 10, 4, 12), delay(1, "day", 135), LORD_HOWE, utc(2025, 10, 4, 15, 45)),
        # and back: 01:45 on Apr 6 2025 happens at +11:00 and then at +10:30; the first counts.
        (utc(2025, 4, 5, 12), delay(1, "day", 105), LORD_HOWE, utc(2025, 4, 5, 14, 45)),
    ],
)
def test_gaps_move_forward_and_overlaps_take_the_first_occurrence(
    entered: datetime, node: dict[str, Any], zone: ZoneInfo, due: datetime
) -> None:
    assert due_at(entered, node, zone) == due


@pytest.mark.parametrize(
    ("minute", "local"),
    [(0, (0, 0, 0)), (570, (9, 30, 0)), (570.5, (9, 30, 30)), (1439.9999999999998, (23, 59, 59))],
)
def test_minute_of_day_sets_the_local_time_in_whole_seconds(
    minute: float, local: tuple[int, int, int]
) -> None:
    due = due_at(utc(2025, 6, 1, 20), delay(2, "day", minute), BERLIN).astimezone(BERLIN)
    assert (due.date().isoformat(), due.hour, due.minute, due.second) == ("2025-06-03", *local)
    assert due.microsecond == 0


def test_minute_of_day_is_ignored_for_units_shorter_than_a_day() -> None:
    assert due_at(utc(2025, 6, 1, 20), delay(5, "min", 570), BERLIN) == utc(2025, 6, 1, 20, 5)


@pytest.mark.parametrize("minute", [-1, 1440, "570", True, float("nan")])
def test_a_minute_of_day_out_of_range_is_refused(minute: Any) -> None:
    with pytest.raises(ValueError, match="minute_of_day"):
        due_at(utc(2025, 6, 1), delay(1, "day", minute), BERLIN)


def test_zero_is_the_entry_itself_or_the_minute_of_the_same_local_day() -> None:
    entered = utc(2025, 6, 1, 20, 15, 30, 123456)  # 22:15:30 in Berlin
    for unit in DELAY_UNITS:
        assert due_at(entered, delay(0, unit), BERLIN) == entered
    assert due_at(entered, delay(0, "day", 1380), BERLIN) == utc(2025, 6, 1, 21)
    assert due_at(entered, delay(0, "month", 570), BERLIN) == utc(2025, 6, 1, 7, 30)  # past: due
    assert due_at(entered, delay(0, "day", 1380), NEW_YORK) == utc(2025, 6, 2, 3)


def test_zero_days_in_the_second_hour_of_a_fall_back_is_the_entry_too() -> None:
    entered = utc(2025, 11, 2, 6, 30)  # 01:30 EST, the second 01:30
    assert due_at(entered, delay(0, "day"), NEW_YORK) == entered
    assert due_at(entered, delay(0, "day", 90), NEW_YORK) == utc(2025, 11, 2, 5, 30)


def test_it_is_the_same_on_every_call() -> None:
    node, entered = delay(1, "month", 570), utc(2025, 1, 31, 23, 59, 59)
    assert {due_at(entered, node, NEW_YORK) for _ in range(3)} == {utc(2025, 2, 28, 14, 30)}


entries = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
zones = st.sampled_from([NEW_YORK, BERLIN, LORD_HOWE, ZoneInfo("Pacific/Chatham")]) | st.timezones()


@given(entries, entries, st.sampled_from(SHORT_UNITS), st.integers(0, 10**6), zones)
def test_short_units_are_monotonic_in_the_entry(
    a: datetime, b: datetime, unit: str, n: int, zone: ZoneInfo
) -> None:
    node = delay(n, unit)
    first, second = sorted((a, b))
    assert due_at(first, node, zone) <= due_at(second, node, zone)
    assert due_at(first, node, zone) - first == n * timedelta(seconds=DELAY_UNITS[unit])


@st.composite
def delays(draw: st.DrawFn) -> dict[str, Any]:
    """Any Delay node the template check lets through, up to its ten-year bound."""
    unit = draw(st.sampled_from(list(DELAY_UNITS)))
    n = draw(st.integers(0, MAX_DELAY_SECONDS // DELAY_UNITS[unit]))
    long = unit not in SHORT_UNITS
    minute = draw(st.none() | st.floats(0, 1440, exclude_max=True)) if long else None
    return delay(str(n) if draw(st.booleans()) else n, unit, minute)


@given(entries, delays(), zones)
def test_any_valid_delay_has_a_due_time_and_a_nonzero_one_is_later(
    entered: datetime, node: dict[str, Any], zone: ZoneInfo
) -> None:
    due = due_at(entered, node, zone)
    assert due.tzinfo is UTC
    if int(node["delay_n"]) > 0:
        assert due > entered
