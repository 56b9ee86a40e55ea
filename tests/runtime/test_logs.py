"""Logs are one JSON object per line, with the `extra` fields and any exception."""

import logging
import sys

import orjson

from runtime.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_its_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "gateway", "levelname": "WARNING", "msg": "refused %s", "args": ("x",)}
    )
    record.path = "/e"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "gateway"
    assert entry["msg"] == "refused x"
    assert entry["path"] == "/e"
    assert entry["ts"].endswith("+00:00")


def test_an_exception_is_rendered_into_the_line() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("sink", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    entry = orjson.loads(JsonFormatter().format(record))
    assert "ValueError: bad" in entry["exc"]
