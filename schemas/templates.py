"""Reading a workflow template's graph: the one place that says what an edge string joins.

The gateway validates templates against it (gateway/workflows/template.py) and the engine walks
them with it (engine/executor.py), so both read `"a-b"` alike.
"""

from collections.abc import Collection, Container, Iterator
from typing import Any

__all__ = ["edge_splits", "edges", "parse_edge"]


def parse_edge(edge: str, node_ids: Container[str]) -> tuple[str, str] | None:
    """The (from, to) ids an edge joins: the one split at a '-' with both sides existing ids
    (ids may hold '-' themselves); None when no split or more than one fits."""
    splits = list(edge_splits(edge, node_ids))
    return splits[0] if len(splits) == 1 else None


def edge_splits(edge: str, node_ids: Container[str]) -> Iterator[tuple[str, str]]:
    """Every split of `edge` at a '-' whose both sides are existing ids."""
    for at, char in enumerate(edge):
        if char == "-" and edge[:at] in node_ids and edge[at + 1 :] in node_ids:
            yield edge[:at], edge[at + 1 :]


def edges(template: dict[str, Any], node_ids: Collection[str]) -> Iterator[tuple[str, str]]:
    """The (from, to) pairs of a valid template's edges, in order."""
    for edge in template.get("edges") or []:
        if isinstance(edge, str) and (pair := parse_edge(edge, node_ids)) is not None:
            yield pair
