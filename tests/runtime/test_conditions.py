"""The trigger condition language: what holds on which event, strict types, the shorthand, and
the problems (path, reason) a specification that is not a condition is refused with."""

from typing import Any

import pytest

from runtime.conditions import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    ConditionError,
    Subject,
    compile_conditions,
    validate_conditions,
)

SUBJECT = Subject(
    name="signup",
    properties={
        "plan": "pro", "amount": 12, "ratio": 0.5, "flag": True, "none": None,
        "tags": ["a", "b", 3], "address": {"city": "Oslo", "zip": "0150"}, "page.url": "/x",
        "count": "10",
    },
    metrics={"amount": 12.0},
    dimensions={"plan.name": "premium"},
    person={"email": "ann@example.com", "age": 41},
)  # fmt: skip


def holds(spec: Any) -> bool:
    return compile_conditions(spec)(SUBJECT)


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"field": "name", "op": "eq", "value": "signup"},
        {"field": "properties.plan", "op": "eq", "value": "pro"},
        {"properties.plan": "pro", "name": "signup"},
        {"plan": "pro"},  # a field naming no root is a property
        {"properties": {"plan": "pro", "address": {"city": "Oslo"}}},
        {"properties.address.city": "Oslo"},
        {"properties.page.url": "/x"},  # a key holding dots is found first
        {"metrics.amount": 12},  # an int and a float are both numbers
        {"dimensions.plan.name": "premium"},  # flat: the dimension `plan.name`
        {"person.email": {"starts_with": "ann@"}},
        {"properties.amount": {"gte": 12, "lt": 100}},
        {"properties.ratio": {"gt": 0.25}},
        {"properties.plan": {"gt": "basic", "lte": "pro"}},
        {"properties.plan": {"in": ["team", "pro"]}},
        {"properties.plan": {"not_in": ["team", "free"]}},
        {"properties.tags": {"contains": 3}},
        {"properties.tags": ["a", "b", 3]},  # an array compared whole
        {"properties.address": {"eq": {"zip": "0150", "city": "Oslo"}}},
        {"properties.plan": {"contains": "r"}},
        {"properties.flag": True},
        {"properties.none": None},
        {"properties.plan": {"ne": "free"}},
        {"properties.missing": {"not_exists": True}},
        {"properties.none": {"exists": False}},  # null is not there
        {"person.age": {"exists": True}},
        {"field": "properties.missing", "op": "not_exists"},
        {"all": []},
        {"any": [{"name": "other"}, {"properties.plan": "pro"}]},
        {"not": {"properties.plan": "free"}},
        {"all": [{"name": "signup"}, {"not": {"any": [{"plan": "free"}, {"flag": False}]}}]},
    ],
)
def test_conditions_that_hold(spec: Any) -> None:
    assert holds(spec), spec


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "login"},
        {"properties.plan": "Pro"},
        {"any": []},
        {"properties.count": 10},  # "10" is a string: never coerced
        {"properties.count": {"gt": 5}},
        {"properties.amount": "12"},
        {"properties.amount": {"ne": "12"}},  # mixed types fail every comparison
        {"properties.amount": {"lt": "z"}},
        {"properties.flag": 1},  # a boolean is no number
        {"properties.amount": {"in": [True, "12"]}},
        {"properties.tags": {"contains": "3"}},
        {"properties.tags": ["a", "b", "3"]},
        {"properties.missing": {"ne": "x"}},  # a missing field fails all but not_exists
        {"properties.missing": {"not_in": ["x"]}},
        {"properties.missing": None},
        {"properties.address.city.name": "Oslo"},  # no deeper than a string
        {"person.email": {"exists": False}},
        {"metrics.plan": {"exists": True}},
        {"not": {}},
    ],
)
def test_conditions_that_do_not_hold(spec: Any) -> None:
    assert not holds(spec), spec


def test_the_api_subject_has_only_a_name_and_properties() -> None:
    subject = Subject("signed_up", {"plan": "pro"})
    assert compile_conditions({"plan": "pro", "name": "signed_up"})(subject)
    assert not compile_conditions({"person.plan": {"exists": True}})(subject)


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ([], "trigger_conditions", "must be an object"),
        ({"all": [{}, {"field": "x", "op": "equals", "value": 1}]}, "trigger_conditions.all[1].op",
         "unknown operator 'equals'; one of eq, ne, gt,"),
        ({"all": {}}, "trigger_conditions.all", "must be an array of conditions"),
        ({"all": [], "not": {}}, "trigger_conditions", "a group has one key"),
        ({"any": ["x"]}, "trigger_conditions.any[0]", "must be an object"),
        ({"op": "eq", "value": 1}, "trigger_conditions.field", "must name a field"),
        ({"field": "x", "op": "eq"}, "trigger_conditions.value", "eq needs a value"),
        ({"field": "x", "op": "exists", "value": 1}, "trigger_conditions.value", "takes no value"),
        ({"field": "x", "op": "eq", "value": 1, "values": 2}, "trigger_conditions.values",
         "unknown key"),
        ({"name.first": "x"}, "trigger_conditions.name.first", "name has no keys"),
        ({"properties": "x"}, "trigger_conditions.properties", "names no key"),
        ({"properties..x": 1}, "trigger_conditions.properties..x", "names no key"),
        ({"x": {"gte": [1]}}, "trigger_conditions.x.gte", "gte compares numbers or strings"),
        ({"x": {"gt": True}}, "trigger_conditions.x.gt", "gt compares numbers or strings"),
        ({"x": {"in": "pro"}}, "trigger_conditions.x.in", "in needs an array"),
        ({"x": {"in": list(range(1001))}}, "trigger_conditions.x.in", "more than 1000 items"),
        ({"x": {"contains": ["a"]}}, "trigger_conditions.x.contains", "contains takes"),
        ({"x": {"starts_with": 1}}, "trigger_conditions.x.starts_with", "needs a string"),
        ({"x": {"ne": None}}, "trigger_conditions.x.ne", "use exists"),
        ({"x": {"exists": "yes"}}, "trigger_conditions.x.exists", "takes true or false"),
        ({"x": {"gte": 1, "y": 2}}, "trigger_conditions.x", "mixes operators and fields"),
    ],
)  # fmt: skip
def test_what_is_not_a_condition_is_named_by_its_path(spec: Any, path: str, reason: str) -> None:
    problems = validate_conditions(spec)
    assert problems and problems[0][0] == path and reason in problems[0][1], problems
    with pytest.raises(ConditionError) as raised:
        compile_conditions(spec)
    assert raised.value.problems == problems


def test_every_problem_is_reported_under_the_given_field() -> None:
    spec = {"all": [{"field": 1, "op": "eq", "value": 1}, {"x": {"in": 1}}]}
    assert validate_conditions(spec, "trigger_conditions_draft") == [
        ("trigger_conditions_draft.all[0].field", "must name a field: name, properties.<key>, "
         "metrics.<key>, ..."),
        ("trigger_conditions_draft.all[1].x.in", "in needs an array"),
    ]  # fmt: skip


def test_a_condition_cannot_be_a_denial_of_service() -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(MAX_DEPTH + 5):
        inner["not"] = {}
        inner = inner["not"]
    assert validate_conditions(deep)[0][1] == f"nested deeper than {MAX_DEPTH} levels"
    wide = {"all": [{"x": i} for i in range(MAX_CONDITIONS + 1)]}
    assert validate_conditions(wide) == [
        (f"trigger_conditions.all[{MAX_CONDITIONS}].x", f"more than {MAX_CONDITIONS} conditions")
    ]
    assert validate_conditions({"all": [{"x": i} for i in range(MAX_CONDITIONS)]}) == []
    value: list[Any] = []
    for _ in range(MAX_DEPTH + 1):
        value = [value]
    assert "nested deeper" in validate_conditions({"x": {"eq": value}})[0][1]
    nested_shorthand: dict[str, Any] = {"v": 1}
    for _ in range(MAX_DEPTH + 1):
        nested_shorthand = {"k": nested_shorthand}
    assert "nested deeper" in validate_conditions({"properties": nested_shorthand})[0][1]
