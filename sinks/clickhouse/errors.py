"""Retry or dead-letter: the one place that decides what a failed ClickHouse write means.

A write fails in one of two ways, and each has its class:
- `DataRefused`: ClickHouse (or the driver, serialising a column) refused the data itself: a
  type mismatch, an unparsable or out-of-range value, a violated constraint. Writing it again
  cannot succeed, so its rows are dead-lettered, never retried (events are first halved until
  the refused rows are alone: `sink.py`).
- `SinkWriteFailed` (`sinks/errors.py`): anything else, ClickHouse unwell or unreachable. The
  checkpoint rewinds the partition and writes the same range again after a back-off.

The decision is made by `write_errors`, around every write; callers catch the two classes.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from runtime.errors import HeadwaterError
from sinks.errors import SinkWriteFailed

__all__ = ["DataRefused", "write_errors"]

# Server error codes that mean "this data cannot go in", not "ClickHouse is unwell": type
# mismatches, unparsable or out-of-range values, violated constraints.
_DATA_ERROR_CODES = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 321, 469})
_ERROR_CODE = re.compile(r"Code: (\d+)")


class DataRefused(HeadwaterError):
    """ClickHouse refused the data itself: dead-letter its rows, do not retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuses_data(exc: BaseException) -> bool:
    """True when ClickHouse (or the driver, serialising a column) refused the data itself."""
    if isinstance(exc, OperationalError):
        return False
    if isinstance(exc, DatabaseError):
        match = _ERROR_CODE.search(str(exc))
        return match is not None and int(match[1]) in _DATA_ERROR_CODES
    return isinstance(exc, ValueError | TypeError | OverflowError)


@contextmanager
def write_errors(token: str) -> Iterator[None]:
    """Whatever the write of the range `token` raises leaves as `DataRefused` or
    `SinkWriteFailed` (errors already one of the two pass unchanged)."""
    try:
        yield
    except (DataRefused, SinkWriteFailed):
        raise
    except Exception as exc:  # the two interfaces raise various types
        if _refuses_data(exc):
            raise DataRefused(_reason(exc)) from exc
        raise SinkWriteFailed(f"{token} not written: {exc!r}") from exc


def _reason(exc: BaseException) -> str:
    """The first line of the error, short enough for a dead letter's detail."""
    return str(exc).splitlines()[0][:500] if str(exc) else repr(exc)
