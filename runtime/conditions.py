"""Trigger conditions: which of its trigger events start a workflow.

A workflow's `trigger_conditions` is a JSON object, checked against each event that names the
workflow's `event_trigger` (by the processors), or against `POST /trigger`'s event (by the
gateway, with the request's `execution_data` as the event's properties):

    {}                                                      holds always
    {"field": "properties.plan", "op": "eq", "value": "pro"}        one condition
    {"all": [...]}   {"any": [...]}   {"not": {...}}                  groups of conditions
    {"properties.plan": "pro", "name": "signup"}            shorthand: each field equals its value
    {"properties.amount": {"gte": 10, "lt": 100}}           shorthand with operators: all hold
    {"properties": {"plan": "pro"}}                         shorthand, nested: `properties.plan`

Fields:
- `name`: the event's name;
- `properties.<key>`: the event's properties; dots go into nested objects (`properties.plan.name`),
  a key that itself holds dots is found first;
- `metrics.<key>`, `dimensions.<key>`: the numeric and string properties as the processors split
  them; these are flat (`dimensions.plan.name` is the dimension `plan.name`);
- `person.<key>`: the person properties the event itself sets (its `user_data.set_once`, then
  `set` over them). The processors hold no person profile: what earlier events set is not seen;
- a field naming none of these is a property: `plan` is `properties.plan`.

Operators (a missing field fails every one but `not_exists`):
- `eq`, `ne`, `gt`, `gte`, `lt`, `lte`: strict on types, never coercing: numbers compare with
  numbers and strings with strings; mixed types (`"10"` and `10`, `true` and `1`) fail all six.
  `eq` and `ne` also take booleans, null (`eq` only: `ne null` is `exists`), arrays and objects.
- `in`, `not_in`: `value` is an array; the field equals one of its items (strictly, as `eq`), or
  is present and equals none;
- `contains`: a string field holds the string `value`, or an array field has an item equal to it;
- `starts_with`: a string field starts with the string `value`;
- `exists`, `not_exists`: the field is present and not null, or not; they take no `value` (the
  shorthand's `{"exists": false}` means `not_exists`).

`{"all": []}` holds, `{"any": []}` does not. In the shorthand an object value is an operator
object when all its keys are operators, a deeper level when none are (mixing is an error); an
array value is compared whole (`eq`), use `{"in": [...]}` for one of several.

Limits, since a condition runs for every matching event: `MAX_DEPTH` levels of nesting,
`MAX_CONDITIONS` conditions, `MAX_ITEMS` items in an `in` array. `compile_conditions` turns a
specification into a closure over a `Subject` (what `validate_conditions` reports is exactly what
makes it raise), so evaluating allocates nothing but the closures' frames.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from runtime.condition_operators import MAX_ITEMS, MISSING, OPERATORS, refusal, test_for
from runtime.errors import HeadwaterError

__all__ = [
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "OPERATORS",
    "ConditionError",
    "Predicate",
    "Subject",
    "compile_conditions",
    "validate_conditions",
]

MAX_DEPTH = 32
MAX_CONDITIONS = 256
_GROUPS = ("all", "any", "not")
_LEAF_KEYS = frozenset({"field", "op", "value"})
_NESTED_ROOTS = ("properties", "person")
_FLAT_ROOTS = ("metrics", "dimensions")


@dataclass(frozen=True, slots=True)
class Subject:
    """What conditions see of an event."""

    name: str
    properties: Mapping[str, Any]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    person: Mapping[str, Any] = field(default_factory=dict)


Predicate = Callable[[Subject], bool]
_Getter = Callable[[Subject], Any]


class ConditionError(HeadwaterError):
    """A specification that is not a condition: every problem, as (path, reason)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in problems))
        self.problems = problems


def compile_conditions(spec: Any, field: str = "trigger_conditions") -> Predicate:
    """The predicate `spec` describes, or ConditionError naming each problem under `field`."""
    compiler = _Compiler()
    predicate = compiler.node(spec, field, 0)
    if compiler.problems:
        raise ConditionError(compiler.problems)
    return predicate


def validate_conditions(spec: Any, field: str = "trigger_conditions") -> list[tuple[str, str]]:
    """Every problem of `spec`, as (path, reason); [] for a valid condition."""
    compiler = _Compiler()
    compiler.node(spec, field, 0)
    return compiler.problems


def _always(subject: Subject) -> bool:
    return True


def _never(subject: Subject) -> bool:
    return False


class _Compiler:
    """One pass over a specification: the predicate, and the problems met on the way."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.conditions = 0

    def fail(self, path: str, reason: str) -> Predicate:
        self.problems.append((path, reason))
        return _never

    def node(self, spec: Any, path: str, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            return self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(spec, dict):
            return self.fail(path, "must be an object")
        if any(group in spec for group in _GROUPS):
            return self.group(spec, path, depth)
        if "field" in spec or "op" in spec:
            return self.leaf(spec, path)
        return _every([self.shorthand(k, v, f"{path}.{k}", depth + 1) for k, v in spec.items()])

    def group(self, spec: dict[str, Any], path: str, depth: int) -> Predicate:
        if len(spec) != 1:
            return self.fail(path, "a group has one key: all, any or not")
        kind, value = next(iter(spec.items()))
        if kind == "not":
            inner = self.node(value, f"{path}.not", depth + 1)
            return lambda subject: not inner(subject)
        if not isinstance(value, list):
            return self.fail(f"{path}.{kind}", "must be an array of conditions")
        parts = [self.node(item, f"{path}.{kind}[{i}]", depth + 1) for i, item in enumerate(value)]
        return _every(parts) if kind == "all" else _some(parts)

    def leaf(self, spec: dict[str, Any], path: str) -> Predicate:
        for key in sorted(spec.keys() - _LEAF_KEYS):
            self.fail(f"{path}.{key}", "unknown key; a condition has field, op and value")
        getter = self.field(spec.get("field"), f"{path}.field")
        op = spec.get("op")
        if op not in OPERATORS:
            known = ", ".join(OPERATORS)
            return self.fail(f"{path}.op", f"unknown operator {op!r}; one of {known}")
        if op in ("exists", "not_exists"):
            if spec.get("value") is not None:
                return self.fail(f"{path}.value", f"{op} takes no value")
            return self.test(getter, op, None, path)
        if "value" not in spec:
            return self.fail(f"{path}.value", f"{op} needs a value")
        return self.test(getter, op, spec["value"], f"{path}.value")

    def shorthand(self, name: str, value: Any, path: str, depth: int) -> Predicate:
        if not isinstance(value, dict) or not value:
            return self.test(self.field(name, path), "eq", value, path)
        operators = [key for key in value if key in OPERATORS]
        if operators and len(operators) < len(value):
            return self.fail(path, "mixes operators and fields; use the condition form")
        if not operators:
            if depth > MAX_DEPTH:
                return self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
            nested = [self.shorthand(f"{name}.{k}", v, f"{path}.{k}", depth + 1)
                      for k, v in value.items()]  # fmt: skip
            return _every(nested)
        getter = self.field(name, path)
        return _every([self.operator(getter, op, v, f"{path}.{op}") for op, v in value.items()])

    def operator(self, getter: _Getter, op: str, value: Any, path: str) -> Predicate:
        """One operator of a shorthand operator object: `exists` takes true or false there."""
        if op in ("exists", "not_exists"):
            if not isinstance(value, bool) and value is not None:
                return self.fail(path, f"{op} takes true or false")
            holds = value is not False
            return self.test(getter, op if holds else _OPPOSITE[op], None, path)
        return self.test(getter, op, value, path)

    def field(self, name: Any, path: str) -> _Getter:
        if not isinstance(name, str) or not name:
            self.fail(path, "must name a field: name, properties.<key>, metrics.<key>, ...")
            return _missing
        root, _, rest = name.partition(".")
        if root == "name":
            if rest:
                self.fail(path, "name has no keys")
            return _event_name
        if root not in _NESTED_ROOTS and root not in _FLAT_ROOTS:
            root, rest = "properties", name
        if not rest or "" in rest.split("."):
            self.fail(path, f"{name!r} names no key: {root}.<key>")
            return _missing
        return _flat(root, rest) if root in _FLAT_ROOTS else _nested(root, rest)

    def test(self, getter: _Getter, op: str, value: Any, path: str) -> Predicate:
        self.conditions += 1
        if self.conditions == MAX_CONDITIONS + 1:
            self.fail(path, f"more than {MAX_CONDITIONS} conditions")
        reason = refusal(op, value, MAX_DEPTH)
        if reason is not None:
            return self.fail(path, reason)
        check = test_for(op, value)
        return lambda subject: check(getter(subject))


_OPPOSITE = {"exists": "not_exists", "not_exists": "exists"}


def _every(parts: list[Predicate]) -> Predicate:
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    checks = tuple(parts)

    def every(subject: Subject) -> bool:
        for check in checks:  # noqa: SIM110 (a loop: all() over a generator allocates one)
            if not check(subject):
                return False
        return True

    return every


def _some(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    checks = tuple(parts)

    def some(subject: Subject) -> bool:
        for check in checks:  # noqa: SIM110 (a loop: any() over a generator allocates one)
            if check(subject):
                return True
        return False

    return some


# fields


def _missing(subject: Subject) -> Any:
    return MISSING


def _event_name(subject: Subject) -> Any:
    return subject.name


def _flat(root: str, key: str) -> _Getter:
    mapping = attrgetter(root)
    return lambda subject: mapping(subject).get(key, MISSING)


def _nested(root: str, path: str) -> _Getter:
    mapping, parts = attrgetter(root), tuple(path.split("."))

    def get(subject: Subject) -> Any:
        value = mapping(subject)
        found = value.get(path, MISSING)  # a key holding dots first
        if found is not MISSING or len(parts) == 1:
            return found
        for part in parts:
            if not isinstance(value, dict):
                return MISSING
            value = value.get(part, MISSING)
        return value

    return get
