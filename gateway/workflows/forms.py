"""Form bodies and query strings with bracket nesting, read as Rails/Rack and Stripe read them.

The Embed Workflow API accepts `application/x-www-form-urlencoded` bodies as well as JSON, so a
client can send `template[nodes][0][id]=a&template[edges][]=a-b&expand[]=event_trigger`. This
module turns such pairs into the nested dicts and lists a JSON body would have given; every value
stays a string (type coercion happens later, in lax validation). The rules:

- `name=x` sets a key; `a[b][c]=x` nests dicts; `a[]=x` appends to a list; `a[0][id]=x` builds a
  list from numeric indices, in index order (the indices must be 0..n-1, gaps are refused);
  `a[][id]=1&a[][name]=x&a[][id]=2` appends a new dict whenever the last one already has the key
  (Rack), giving `[{"id": "1", "name": "x"}, {"id": "2"}]`.
- A repeated leaf, `a=1&a=2` or `a[b]=1&a[b]=2`, keeps the last value (Rack), so a client that
  sends a default then an override gets the override.
- Anything else ambiguous is refused with a `FormError` naming the key: a value and a nested key
  under one name (`a=1&a[b]=2`), a list and a dict (`a[]=1&a[x]=2`), named and numeric keys
  (`a[0]=1&a[x]=2`), malformed brackets (`a[b=1`, `a[b]c=1`), empty keys, nesting deeper than
  `MAX_DEPTH`, more than `MAX_PAIRS` pairs, and bytes that are not UTF-8.
"""

import re
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["MAX_DEPTH", "MAX_PAIRS", "FormError", "parse_form", "parse_query"]

MAX_DEPTH = 16  # bracket levels below the top-level name
MAX_PAIRS = 1000
_MAX_INDEX_DIGITS = len(str(MAX_PAIRS))  # a longer index cannot be part of a gap-free list
_INDEX = re.compile(r"[0-9]+")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(Exception):
    """A form body or query string that cannot become a nested object: which key, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class _Keys(dict[str, Any]):
    """A dict being built from named keys (`a[b]`)."""


class _Index(dict[int, Any]):
    """A list being built from numeric indices (`a[0]`), made a list once all pairs are in."""


def parse_form(body: bytes) -> dict[str, Any]:
    """The nested object an `application/x-www-form-urlencoded` body stands for."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_PAIRS,
        )
    except UnicodeDecodeError as e:
        raise FormError("body", f"is not valid UTF-8 ({e.reason})") from e
    except ValueError as e:  # parse_qsl's "Max number of fields exceeded"
        raise FormError("body", f"has more than {MAX_PAIRS} parameters") from e
    return _build(pairs, "body")


def parse_query(items: list[tuple[str, str]]) -> dict[str, Any]:
    """The nested object a query string's decoded pairs stand for (`expand[]=event_trigger`)."""
    if len(items) > MAX_PAIRS:
        raise FormError("query", f"has more than {MAX_PAIRS} parameters")
    return _build(items, "query")


def _build(pairs: list[tuple[str, str]], where: str) -> dict[str, Any]:
    root = _Keys()
    for key, value in pairs:
        if not key:
            if value:
                raise FormError(where, f"a parameter has an empty name (value {value!r})")
            continue  # a stray '&' or '=' carries nothing
        _put(root, key, _segments(key), value)
    return _finish(root, "")


def _segments(key: str) -> list[str]:
    """`a[b][]` -> ["a", "b", ""]: the name, then each bracket's content ("" appends)."""
    name, bracket, rest = key.partition("[")
    if not name or "]" in name:
        raise FormError(key, "must start with a name (a non-empty key without brackets)")
    segments = [name]
    if bracket:
        rest = "[" + rest
        position = 0
        while position < len(rest):
            match = _SEGMENT.match(rest, position)
            if match is None:
                raise FormError(key, "has malformed brackets (each '[' needs its ']')")
            segments.append(match.group(1))
            position = match.end()
    if len(segments) - 1 > MAX_DEPTH:
        raise FormError(key, f"nests deeper than {MAX_DEPTH} levels")
    return segments


def _put(container: Any, key: str, segments: list[str], value: str) -> None:
    """Walk (and build) `segments` from `container`, then set or append `value` at the end."""
    for depth, segment in enumerate(segments):
        slot = _slot(container, key, segment)
        if depth == len(segments) - 1:
            _set_leaf(container, key, slot, value)
            return
        following = segments[depth + 1]
        if slot is None:  # '[]' followed by more brackets: reuse the last element or add one
            container = _append_target(container, key, segments[depth + 1 :])
            continue
        child = container.get(slot)
        if child is None:
            child = _empty_for(following)
            container[slot] = child
        elif not isinstance(child, type(_empty_for(following))):
            raise FormError(key, "conflicts with an earlier parameter: a list, a dict or a value")
        container = child


def _slot(container: Any, key: str, segment: str) -> str | int | None:
    """Where `segment` points in `container` (whose kind `_put` matched to the segment): a name,
    an index, or None for an append."""
    if isinstance(container, list):
        return None
    if isinstance(container, _Index):
        if len(segment) > _MAX_INDEX_DIGITS:
            raise FormError(key, f"has an index beyond {MAX_PAIRS}")
        return int(segment)
    return segment


def _empty_for(segment: str) -> Any:
    """The container a following bracket segment needs: '' a list, digits a list by index."""
    if not segment:
        return []
    return _Index() if _INDEX.fullmatch(segment) else _Keys()


def _set_leaf(container: Any, key: str, slot: str | int | None, value: str) -> None:
    if slot is None:
        container.append(value)
        return
    if isinstance(container.get(slot), dict | list):
        raise FormError(key, "conflicts with an earlier parameter that nests under this name")
    container[slot] = value  # a repeated leaf: the last value wins


def _append_target(items: list[Any], key: str, rest: list[str]) -> Any:
    """For `a[][b]...`: the list's last element unless it already has `b...`, else a new one."""
    if rest[0] and items and isinstance(items[-1], _Keys) and not _has_path(items[-1], rest):
        return items[-1]
    element = _empty_for(rest[0])
    if not isinstance(element, _Keys):
        raise FormError(key, "'[]' may only be followed by a name")
    items.append(element)
    return element


def _has_path(container: Any, names: list[str]) -> bool:
    """Whether the named keys at the start of `names` are already set (Rack's has_key test)."""
    for name in names:
        if not name:
            return True
        if not isinstance(container, _Keys) or name not in container:
            return False
        container = container[name]
    return True


def _finish(value: Any, path: str) -> Any:
    """Plain dicts and lists from the builders, with numeric indices checked for gaps."""
    if isinstance(value, _Index):
        indices = sorted(value)
        if indices != list(range(len(indices))):
            raise FormError(path, f"indices must run 0..{len(indices) - 1}, got {indices}")
        return [_finish(value[i], f"{path}[{i}]") for i in indices]
    if isinstance(value, _Keys):
        return {k: _finish(v, f"{path}[{k}]" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish(v, f"{path}[]") for v in value]
    return value
