"""Turning parsed JSON into a vendor's request model, with every problem named by its field."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.body import properties_problem
from gateway.errors import InvalidPayload, Problem

__all__ = ["check_properties", "problems_of", "validate"]

M = TypeVar("M", bound=BaseModel)

_MAX_PROBLEMS = 20


def problems_of(exc: ValidationError, index: int | None = None) -> list[Problem]:
    return [
        Problem(".".join(str(part) for part in error["loc"]) or "body", error["msg"], index)
        for error in exc.errors(include_url=False)[:_MAX_PROBLEMS]
    ]


def validate(model: type[M], data: Any) -> M:
    """`model` from a JSON value, or InvalidPayload listing what is wrong."""
    if not isinstance(data, dict):
        raise InvalidPayload.at("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(problems_of(exc)) from exc


def check_properties(
    trees: dict[str, Any], max_depth: int, max_keys: int, index: int | None = None
) -> None:
    """Each named property tree within the limits, or InvalidPayload naming the field."""
    problems = [
        Problem(field, reason, index)
        for field, tree in trees.items()
        if tree and (reason := properties_problem(tree, max_depth, max_keys))
    ]
    if problems:
        raise InvalidPayload(problems)
