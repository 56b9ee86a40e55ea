"""Retry or dead-letter: what `write_errors` makes of the errors a ClickHouse write raises."""

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from sinks.clickhouse.errors import DataRefused, write_errors
from sinks.errors import SinkWriteFailed


def decided(error: Exception) -> Exception:
    """The error that leaves `write_errors` when a write raises `error`."""
    with pytest.raises((DataRefused, SinkWriteFailed)) as caught, write_errors("events:0:5-9"):
        raise error
    return caught.value


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (DatabaseError("Code: 53. DB::Exception: Type mismatch in VALUES\nmore"), DataRefused),
        (DatabaseError("Code: 469. DB::Exception: Constraint `name` is violated"), DataRefused),
        (ValueError("year 2500 is out of range"), DataRefused),
        (TypeError("a string where a number goes"), DataRefused),
        (OverflowError("int too big to convert"), DataRefused),
        (OperationalError("Error HTTPConnectionPool: Connection refused"), SinkWriteFailed),
        (DatabaseError("Code: 241. DB::Exception: Memory limit exceeded"), SinkWriteFailed),
        (DatabaseError("no code at all"), SinkWriteFailed),
        (ConnectionResetError("peer went away"), SinkWriteFailed),
    ],
)
def test_refused_data_is_dead_lettered_and_anything_else_retried(
    error: Exception, outcome: type[Exception]
) -> None:
    """A refusal keeps the error's first line as its reason; a failure names the range."""
    decision = decided(error)
    assert type(decision) is outcome and decision.__cause__ is error
    if isinstance(decision, DataRefused):
        assert decision.reason == str(error).splitlines()[0]
    else:
        assert str(decision) == f"events:0:5-9 not written: {error!r}"


def test_a_decided_error_passes_unchanged() -> None:
    for error in (DataRefused("bad row"), SinkWriteFailed("the ClickHouse sink is not started")):
        assert decided(error) is error


def test_a_refusal_reason_is_one_line_of_at_most_500_characters() -> None:
    for error, reason in ((ValueError("x" * 800), "x" * 500), (ValueError(), "ValueError()")):
        refused = decided(error)
        assert isinstance(refused, DataRefused) and refused.reason == reason
