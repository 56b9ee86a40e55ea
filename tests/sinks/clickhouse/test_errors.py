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
    "error",
    [
        DatabaseError("Code: 53. DB::Exception: Type mismatch in IN or VALUES section\nmore"),
        DatabaseError("Code: 469. DB::Exception: Constraint `name` is violated"),
        ValueError("year 2500 is out of range"),
        TypeError("a string where a number goes"),
        OverflowError("int too big to convert"),
    ],
)
def test_data_the_store_refuses_is_dead_lettered_not_retried(error: Exception) -> None:
    refused = decided(error)
    assert isinstance(refused, DataRefused)
    assert refused.reason == str(error).splitlines()[0]
    assert refused.__cause__ is error


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("Error HTTPConnectionPool: Connection refused"),
        DatabaseError("Code: 241. DB::Exception: Memory limit exceeded"),
        DatabaseError("no code at all"),
        ConnectionResetError("peer went away"),
    ],
)
def test_anything_else_is_retried_and_names_the_range(error: Exception) -> None:
    failed = decided(error)
    assert isinstance(failed, SinkWriteFailed)
    assert str(failed) == f"events:0:5-9 not written: {error!r}"


def test_a_decided_error_passes_unchanged() -> None:
    for error in (DataRefused("bad row"), SinkWriteFailed("the ClickHouse sink is not started")):
        assert decided(error) is error


def test_a_refusal_reason_is_one_line_of_at_most_500_characters() -> None:
    for error, reason in ((ValueError("x" * 800), "x" * 500), (ValueError(), "ValueError()")):
        refused = decided(error)
        assert isinstance(refused, DataRefused) and refused.reason == reason
