"""The seed's examples as fixtures, and the check that an answer has an example's shape.

An answer has the example's shape when every key of the example is in it (the answer may show
more: our objects are a superset of the seed's examples, by decision) and every value has the
same JSON type, recursively. Where the example shows null, the answer may be null or a value of
the type the seed's attribute tables name for that attribute (`SEED_TYPES`). Where the example
shows a list, every element of the answer's list has the shape of the example's first element,
or, where the example's elements differ (a template's nodes of several types), of one of them;
an empty example list says nothing about its elements. Times are checked by their format
wherever they appear (`TIME_FORMATS`).
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from tests.conftest import FIXTURES

__all__ = ["OPTIONAL", "SEED_TYPES", "TIME_FORMATS", "assert_shape", "assert_times", "example"]

WORKFLOW_FIXTURES = FIXTURES / "workflows"
_DATETIME = (str,)  # the seed's `datetime`: a string such as 2023-12-29T18:08:10Z
# The types the seed's attribute tables give the attributes its examples show as null.
SEED_TYPES: dict[str, tuple[type, ...]] = {
    "event_trigger": (str,),  # "string (expandable)"; expanded, an object
    "event_trigger_draft": (str,),
    "stop_event": (str,),
    "stop_event_draft": (str,),
    "primary_color": (str,),  # config[primary_color]
    "logo_url": (str,),  # config[logo_url]
    "last_published_at": _DATETIME,
    "last_published_at_utc": _DATETIME,
    "last_published_at_string": (str,),
}
# Attributes the seed's tables call optional: null in an answer though the example shows a value
# (the seed's users all have a generated email; ours have none until one is given).
OPTIONAL = frozenset({"email"})
TIME_FORMATS = {
    "_at": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"),
    "_at_utc": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"),
    "_at_string": re.compile(r"[A-Z][a-z]{2} \d{2}, \d{4} \d{2}:\d{2} (am|pm) UTC"),
}


def example(name: str) -> Any:
    """The fixture `tests/fixtures/workflows/<name>.json`."""
    return json.loads((WORKFLOW_FIXTURES / f"{name}.json").read_text())


def assert_shape(expected: Any, answer: Any, where: str = "$") -> None:
    """Fail naming the first place where `answer` does not have `expected`'s shape."""
    if isinstance(expected, dict):
        assert isinstance(answer, dict), f"{where}: an object expected, got {answer!r}"
        for key, value in expected.items():
            assert key in answer, f"{where}: no {key!r} (keys: {sorted(answer)})"
            _assert_value(key, value, answer[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(answer, list), f"{where}: an array expected, got {answer!r}"
        for index, item in enumerate(answer if expected else []):
            _assert_one_of(expected, item, f"{where}[{index}]")
    else:
        assert _same_type(expected, answer), f"{where}: {answer!r} is not like {expected!r}"


def assert_times(answer: Any, where: str = "$") -> None:
    """Every time in `answer`, at any depth, in its format; `x`, `x_utc` and `x_string` of one
    time agree."""
    if isinstance(answer, list):
        for index, item in enumerate(answer):
            assert_times(item, f"{where}[{index}]")
    if not isinstance(answer, dict):
        return
    for key, value in answer.items():
        pattern = next((p for end, p in TIME_FORMATS.items() if key.endswith(end)), None)
        if pattern is not None and value is not None:
            assert isinstance(value, str), f"{where}.{key}: {value!r} is not a time"
            assert pattern.fullmatch(value), f"{where}.{key}: {value!r} is not like the seed's"
        if key.endswith("_at") and f"{key}_string" in answer and value is not None:
            assert answer[f"{key}_utc"] == value, f"{where}.{key}_utc differs from {key}"
            shown = datetime.strptime(answer[f"{key}_string"], "%b %d, %Y %I:%M %p UTC")
            moment = datetime.fromisoformat(value).astimezone(UTC).replace(second=0)
            assert shown.replace(tzinfo=UTC) == moment, f"{where}.{key}_string differs"
        assert_times(value, f"{where}.{key}")


def _assert_value(key: str, expected: Any, answer: Any, where: str) -> None:
    if expected is None:
        allowed = SEED_TYPES.get(key)
        assert allowed is not None, f"{where}: the seed names no type for {key!r}"
        assert answer is None or _is(answer, allowed), f"{where}: {answer!r} is not {allowed}"
    elif answer is None and key in OPTIONAL:
        return
    else:
        assert_shape(expected, answer, where)


def _assert_one_of(examples: list[Any], answer: Any, where: str) -> None:
    """`answer` has the shape of the first of `examples`, or else of another one."""
    for candidate in examples[1:]:
        try:
            assert_shape(candidate, answer, where)
        except AssertionError:
            continue
        return
    assert_shape(examples[0], answer, where)


def _same_type(expected: Any, answer: Any) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return isinstance(expected, bool) and isinstance(answer, bool)
    if isinstance(expected, float):
        return isinstance(answer, int | float)
    return type(answer) is type(expected)


def _is(value: Any, allowed: tuple[type, ...]) -> bool:
    return not isinstance(value, bool) and isinstance(value, allowed)
