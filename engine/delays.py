"""When a Delay node is due: a pure function of the time the execution entered it, the node and
the project's time zone.

It never reads the clock: the engine stores the entry time and recomputes the same due time on
any replay, so a redelivered command or a restarted worker cannot move a timer (PostHog's
"23-hour delay finished in minutes" came from a wake time computed against "now"). The rules,
chosen to match what a person setting "wait 1 day, then at 09:30" expects:

- `sec`, `min`, `hour` are elapsed time: entered + n units. Daylight saving time plays no part.
- `day` and `week` are calendar days in the zone: the local date moves by n (x 7) days and the
  local wall-clock time is kept, so "1 day" across a DST change is 23 or 25 hours of elapsed time.
- `month` and `year` are calendar months in the zone: the same day of the month, clamped to the
  month's last day (Jan 31 + 1 month = Feb 28 or 29; Feb 29 + 1 year = Feb 28), wall time kept.
- `minute_of_day` (day and longer only; ignored for shorter units, which the template check
  refuses anyway): once the date has moved, the local time becomes that minute of the day (570 =
  09:30). A fraction of a minute becomes whole seconds (570.5 = 09:30:30); a fraction of a second
  is dropped.
- A local time that does not exist (the spring-forward gap) moves forward by the gap's length
  (02:30 on a New York spring-forward day is 03:30 EDT); an ambiguous one (fall-back) is its
  first occurrence (01:30 EDT, not EST), also when the entry was in the second one: the wall
  time is kept, not the offset. Both follow from PEP 495: the naive local time gets fold=0 and is
  normalised through UTC.
- `delay_n` 0 is allowed: due at the entry itself, or with `minute_of_day` at that minute of the
  same local day, which may be earlier than the entry: the timer is then due and fires at once.

`delay_n` arrives as an int, or as a string of ASCII digits from a form body. `entered_at` must be
aware (a naive one would be read in the machine's zone, which is not a pure input); the result is
an aware UTC datetime. Dates stay inside what `datetime` holds for any entry before year 9980,
since a delay is at most about ten years.
"""

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["due_at"]

_ELAPSED = {"sec": timedelta(seconds=1), "min": timedelta(minutes=1), "hour": timedelta(hours=1)}
# Calendar units: (days, months) each one moves the local date by.
_CALENDAR = {"day": (1, 0), "week": (7, 0), "month": (0, 1), "year": (0, 12)}
_DIGITS = re.compile(r"[0-9]+")
_LAST_SECOND = 86399


def due_at(entered_at: datetime, node: Mapping[str, Any], zone: ZoneInfo) -> datetime:
    """The UTC time the Delay `node`, entered at `entered_at`, ends (rules in the module doc)."""
    if entered_at.utcoffset() is None:
        raise ValueError(f"entered_at must be an aware datetime, got {entered_at!r}")
    n, unit, minute = _count(node.get("delay_n")), node.get("delay_unit"), node.get("minute_of_day")
    if unit in _ELAPSED:
        return (entered_at + n * _ELAPSED[unit]).astimezone(UTC)
    if unit not in _CALENDAR:
        raise ValueError(f"delay_unit {unit!r} is not a known unit")
    if n == 0 and minute is None:
        return entered_at.astimezone(UTC)  # the entry itself, also in a fall-back's second hour
    local = entered_at.astimezone(zone)
    days, months = _CALENDAR[unit]
    day = _add_months(local.date(), n * months) + timedelta(days=n * days)
    wall = local.time().replace(fold=0) if minute is None else _time_of_day(minute)
    return datetime.combine(day, wall, zone).astimezone(UTC)


def _count(value: Any) -> int:
    """`delay_n` as an int: an int, or a form's string of ASCII digits (str.isdigit would let
    '²' through, which int() refuses)."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"delay_n must be an integer >= 0, got {value!r}")


def _add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months, clamped to the last day of the month it lands in."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _time_of_day(minute: float) -> time:
    """The wall time `minute` minutes after midnight, in whole seconds. Kept below midnight:
    a minute just under 1440 can round up to 86400.0 seconds in floating point."""
    if isinstance(minute, bool) or not isinstance(minute, int | float) or not 0 <= minute < 1440:
        raise ValueError(f"minute_of_day must be a number 0 <= m < 1440, got {minute!r}")
    seconds = min(int(minute * 60), _LAST_SECOND)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
