"""The operators of trigger conditions (runtime/conditions.py) as tests on one value: strict on
types, never coercing. A bool is no number and a number no string, so `"10"` and `10`, `true` and
`1` are unequal and unordered; numbers compare with numbers (an int with a float), strings with
strings. Each test is made once per condition, specialised on the condition's value, so that
evaluating one is a type check and a comparison.
"""

from collections.abc import Callable
from operator import ge, gt, le, lt
from typing import Any

__all__ = ["MAX_ITEMS", "MISSING", "OPERATORS", "Test", "refusal", "test_for"]

MAX_ITEMS = 1000  # items of an `in` or `not_in` array
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "starts_with",
             "exists", "not_exists")  # fmt: skip
MISSING: Any = object()  # what a field the event does not have reads as
_ORDERS = {"gt": gt, "gte": ge, "lt": lt, "lte": le}

Test = Callable[[Any], bool]


def test_for(op: str, value: Any) -> Test:
    """The test `op` makes of a field's value against `value` (which `refusal` accepted)."""
    return _TESTS[op](value)


def refusal(op: str, value: Any, max_depth: int) -> str | None:
    """Why `value` cannot go with `op`, if it cannot."""
    if _deeper_than(value, max_depth):
        return f"nested deeper than {max_depth} levels"
    if op in _ORDERS and not (_is_number(value) or isinstance(value, str)):
        return f"{op} compares numbers or strings"
    if op == "ne" and value is None:
        return "ne null never holds; use exists"
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            return f"{op} needs an array"
        if len(value) > MAX_ITEMS:
            return f"more than {MAX_ITEMS} items"
    if op == "contains" and isinstance(value, list | dict):
        return "contains takes a string, number, boolean or null"
    if op == "starts_with" and not isinstance(value, str):
        return "starts_with needs a string"
    return None


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _kind(value: Any) -> str:
    """The JSON type of a value ("other" for none: the missing marker)."""
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "other"


def _same(a: Any, b: Any) -> bool:
    kind = _kind(a)
    if kind != _kind(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if kind == "object":
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return bool(a == b)


def _deeper_than(value: Any, limit: int) -> bool:
    if not isinstance(value, list | dict):
        return False
    if limit == 0:
        return True
    items = value.values() if isinstance(value, dict) else value
    return any(_deeper_than(item, limit - 1) for item in items)


def _equals(value: Any) -> Test:
    if isinstance(value, str):
        return lambda actual: actual == value  # False for any other type
    if isinstance(value, bool) or value is None:
        return lambda actual: actual is value
    if _is_number(value):
        return lambda actual: (type(actual) is int or type(actual) is float) and actual == value
    return lambda actual: _same(actual, value)


def _differs(value: Any) -> Test:
    equal, kind = _equals(value), _kind(value)
    return lambda actual: _kind(actual) == kind and not equal(actual)


def _ordered(op: str) -> Callable[[Any], Test]:
    compare = _ORDERS[op]

    def make(value: Any) -> Test:
        if isinstance(value, str):
            return lambda actual: type(actual) is str and compare(actual, value)
        return lambda actual: (
            (type(actual) is int or type(actual) is float) and compare(actual, value)
        )

    return make


def _one_of(values: list[Any]) -> Test:
    strings = frozenset(v for v in values if isinstance(v, str))
    numbers = frozenset(v for v in values if _is_number(v))
    flags = frozenset(v for v in values if isinstance(v, bool) or v is None)
    others = tuple(v for v in values if isinstance(v, list | dict))

    def test(actual: Any) -> bool:
        kind = type(actual)
        if kind is str:
            return actual in strings
        if kind is int or kind is float:
            return actual in numbers
        if kind is bool or actual is None:
            return actual in flags  # holds no numbers: True is not 1 here
        return any(_same(actual, other) for other in others)

    return test


def _none_of(values: list[Any]) -> Test:
    one_of = _one_of(values)
    return lambda actual: actual is not MISSING and not one_of(actual)


def _contains(value: Any) -> Test:
    equal = _equals(value)

    def test(actual: Any) -> bool:
        if type(actual) is str:
            return type(value) is str and value in actual
        return type(actual) is list and any(equal(item) for item in actual)

    return test


def _starts_with(value: str) -> Test:
    return lambda actual: type(actual) is str and actual.startswith(value)


def _exists(value: None) -> Test:
    return lambda actual: actual is not MISSING and actual is not None


def _not_exists(value: None) -> Test:
    return lambda actual: actual is MISSING or actual is None


_TESTS: dict[str, Callable[[Any], Test]] = {
    "eq": _equals, "ne": _differs, "in": _one_of, "not_in": _none_of, "contains": _contains,
    "starts_with": _starts_with, "exists": _exists, "not_exists": _not_exists,
    **{op: _ordered(op) for op in _ORDERS},
}  # fmt: skip
