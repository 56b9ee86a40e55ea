"""Cursor pagination, as the seed describes it: newest first, `starting_after` for the page of
older objects after an id, `ending_before` for the page of newer objects before it.

The cursor is a position, not an index: ids are UUIDv7s (time-ordered), so a page is "the 25
nearest ids below (or above) the cursor". Objects created while a client pages are newer than its
cursors and never shift the pages it has not read yet; a deleted cursor still marks its place.
"""

import uuid
from typing import Any, TypeVar

from gateway.errors import InvalidPayload

__all__ = ["PAGE_LIMIT", "paginate"]

PAGE_LIMIT = 25

T = TypeVar("T")


def paginate(
    items: list[T], ids: list[str], starting_after: str | None, ending_before: str | None
) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` (newest first, with their `ids`) and the seed's `meta`."""
    if starting_after is not None and ending_before is not None:
        raise InvalidPayload.at(
            "starting_after", "only one of starting_after and ending_before may be used"
        )
    if starting_after is not None:
        cursor = _cursor("starting_after", starting_after)
        start = next((i for i, item_id in enumerate(ids) if item_id < cursor), len(ids))
        end = min(start + PAGE_LIMIT, len(ids))
    elif ending_before is not None:
        cursor = _cursor("ending_before", ending_before)
        end = next((i for i, item_id in enumerate(ids) if item_id <= cursor), len(ids))
        start = max(0, end - PAGE_LIMIT)
    else:
        start, end = 0, min(PAGE_LIMIT, len(ids))
    meta = {
        "page_limit": PAGE_LIMIT,
        "has_next_page": end < len(ids),
        "has_previous_page": start > 0,
    }
    return items[start:end], meta


def _cursor(field: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidPayload.at(field, "is not an object id") from exc
