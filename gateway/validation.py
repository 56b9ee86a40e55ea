"""Turning a body into a vendor's request model, with every problem named by its field, and the
limits a format holds property trees and bulk bodies to."""

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError, core_schema

from gateway.body import parse_json, properties_problem
from gateway.errors import InvalidPayload, LimitExceeded, Problem
from gateway.settings import GatewaySettings

__all__ = ["Id", "Limits", "check_properties", "id_text", "problems_of", "validate_json"]

M = TypeVar("M", bound=BaseModel)

_MAX_PROBLEMS = 20
_EXACT_FLOAT = 2**53


def id_text(value: Any) -> str | None:
    """An id's string form, or None when `value` cannot be an id: a string as it is, a JSON
    number as its decimal string (`42` and `42.0` -> "42", `1.5` -> "1.5"). A float beyond 2^53
    (so also an integer beyond 64 bits, which JSON parsers read as a float) has lost its digits
    and is refused, as are booleans and containers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and abs(value) <= _EXACT_FLOAT:  # also refuses nan and inf
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _number_id(value: float) -> str:
    if (text := id_text(value)) is None:
        raise PydanticCustomError("id_type", "a float id beyond 2^53 has lost its digits")
    return text


class _IdSchema:
    """A string as it is (checked by pydantic-core alone, as fast as `StrictStr`), or a number
    as its string form; anything else is one error, "must be a string or a number"."""

    SCHEMA = core_schema.union_schema(
        [
            core_schema.str_schema(strict=True),
            core_schema.no_info_after_validator_function(
                _number_id,
                core_schema.union_schema(
                    [core_schema.int_schema(strict=True), core_schema.float_schema(strict=True)]
                ),
            ),
        ],
        mode="left_to_right",
        custom_error_type="id_type",
        custom_error_message="must be a string or a number (beyond 2^53, an integer of 64 bits)",
        serialization=core_schema.simple_ser_schema("str"),  # a str once validated
    )

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return self.SCHEMA


# An id field that clients send as a string (UUIDs among them) or a number: stored as a string.
Id = Annotated[str, _IdSchema()]


def problems_of(exc: ValidationError, index: int | None = None) -> list[Problem]:
    return [
        Problem(".".join(str(part) for part in error["loc"]) or "body", error["msg"], index)
        for error in exc.errors(include_url=False)[:_MAX_PROBLEMS]
    ]


@dataclass(frozen=True, slots=True)
class Limits:
    """How deep and wide an event's property trees, and how long a bulk body, may be: the part
    of the gateway's settings a format reads (`headwater dlq replay` passes today's)."""

    max_json_depth: int
    max_properties: int
    max_bulk_events: int

    @classmethod
    def of(cls, settings: GatewaySettings) -> "Limits":
        return cls(settings.max_json_depth, settings.max_properties, settings.max_bulk_events)


def validate_json(model: type[M], body: bytes) -> M:
    """`model` from a JSON object body, or InvalidPayload listing what is wrong."""
    data = parse_json(body)
    if not isinstance(data, dict):
        raise InvalidPayload.at("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(problems_of(exc)) from exc


def check_properties(trees: dict[str, Any], limits: Limits) -> None:
    """Each named property tree within the limits, or LimitExceeded naming the field.

    All the trees are walked once, as the children of `trees`: within the limits one level
    deeper and with one key more per tree, each of them is within them (the common case: one walk
    per event, not one per field); otherwise each is checked on its own, to name the fields."""
    depth, keys = limits.max_json_depth, limits.max_properties
    if properties_problem(trees, depth + 1, keys + len(trees)) is None:
        return
    problems = [
        Problem(field, reason)
        for field, tree in trees.items()
        if tree and (reason := properties_problem(tree, depth, keys))
    ]
    if problems:
        raise LimitExceeded(problems)
