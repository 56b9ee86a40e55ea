"""The workflow template: nodes (Start, Delay, Webhook) joined by edges ("a-b"), checked before a
workflow is stored so the engine never meets a graph it cannot run.

It stays a plain dict, no model: the state stores it as JSON and hands back every key the engine
does not use (`width`, `height`, `positions`, anything) untouched. `validate_template` names each
problem by its place (`template.nodes[2].delay_unit`) and its node or edge. Open points decided:

- An empty template (no nodes, no edges) is valid: the seed's create example stores one. Any other
  needs one Start node reaching every node, without cycles (a draft only once it is published).
- `minute_of_day` may be absent or null, and applies to delays of a day and longer only. A delay
  is at most `MAX_DELAY_SECONDS` (about ten years): due times stay far inside what dates hold.
- `headers` and `params` are lines of `key: value` (blank lines skipped), a header name an HTTP
  token; the engine decides how `params` becomes a request body.
"""

import math
import re
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from typing import Any
from urllib.parse import urlsplit

from gateway.errors import Problem
from schemas.templates import edge_splits

__all__ = [
    "DELAY_UNITS",
    "MAX_DELAY_SECONDS",
    "NODE_TYPES",
    "actions_count",
    "coerce_form_template",
    "validate_template",
]

NODE_TYPES = ("Start", "Delay", "Webhook")
# Longest length of each unit, in seconds: used only to bound a delay.
DAY = 86400
DELAY_UNITS = {"sec": 1, "min": 60, "hour": 3600, "day": DAY, "week": 7 * DAY, "month": 31 * DAY}
DELAY_UNITS["year"] = 366 * DAY
DAY_AND_LONGER = ("day", "week", "month", "year")
MINUTES_PER_DAY = 1440
MAX_DELAY_SECONDS = 10 * DELAY_UNITS["year"]
_SIZES = ("width", "height")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")
_NODE_NUMBERS = {"delay_n": _INTEGER, "minute_of_day": _NUMBER}


def validate_template(
    template: Any, *, field: str = "template", draft: bool = False
) -> list[Problem]:
    """Every problem of `template`, in order; [] when the engine can run it. A `draft` may be an
    unfinished graph (no Start yet, nodes not connected), but not malformed."""
    if not isinstance(template, dict):
        return [Problem(field, "must be an object with nodes and edges")]
    nodes, edges = template.get("nodes", []), template.get("edges", [])
    problems = [Problem(f"{field}.{k}", "must be an array") for k in ("nodes", "edges")]
    problems = [p for p, v in zip(problems, (nodes, edges), strict=True) if not isinstance(v, list)]
    if problems:
        return problems
    ids: dict[str, int] = {}
    for index, node in enumerate(nodes):
        problems += _node_problems(node, f"{field}.nodes[{index}]", ids, index)
    pairs = _edge_pairs(edges, ids, field, problems)
    return problems if draft else problems + _graph_problems(nodes, ids, pairs, field)


def actions_count(template: dict[str, Any]) -> int:
    """The nodes that do something: every node but Start (the seed counts 3 for a, b, c)."""
    nodes = template.get("nodes") or []
    return sum(1 for node in nodes if isinstance(node, dict) and node.get("type") != "Start")


def coerce_form_template(template: Any) -> Any:
    """A template from a form body, whose values are all strings, with the numbers turned back
    into numbers (`delay_n`, `minute_of_day`, `width`, `height`, positions' x and y) and an empty
    `nodes` or `edges` (a form cannot send an empty array) as []. Anything else stays as sent, for
    validation to report; JSON bodies are not coerced."""
    if not isinstance(template, dict):
        return template
    coerced = {k: _number(v, _INTEGER) if k in _SIZES else v for k, v in template.items()}
    coerced |= {key: [] for key in ("nodes", "edges") if coerced.get(key) == ""}
    if isinstance(coerced.get("nodes"), list):
        coerced["nodes"] = [_coerce_node(node) for node in coerced["nodes"]]
    if isinstance(coerced.get("positions"), dict):
        coerced["positions"] = {
            node: {k: _number(v, _NUMBER) for k, v in p.items()} if isinstance(p, dict) else p
            for node, p in coerced["positions"].items()
        }
    return coerced


def _coerce_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    return {k: _number(v, _NODE_NUMBERS[k]) if k in _NODE_NUMBERS else v for k, v in node.items()}


def _number(value: Any, pattern: re.Pattern[str]) -> Any:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return value
    return float(value) if "." in value else int(value)


def _node_problems(node: Any, where: str, ids: dict[str, int], index: int) -> list[Problem]:
    """The node's own problems; records its id in `ids` (id -> first index) when usable."""
    if not isinstance(node, dict):
        return [Problem(where, f"node #{index}: must be an object")]
    node_id, problems = node.get("id"), []
    name = f"node {node_id!r}" if isinstance(node_id, str) and node_id else f"node #{index}"
    if not isinstance(node_id, str) or not node_id:
        problems.append(Problem(f"{where}.id", f"{name}: id must be a non-empty string"))
    elif node_id in ids:
        problems.append(Problem(f"{where}.id", f"{name}: id is taken by nodes[{ids[node_id]}]"))
    else:
        ids[node_id] = index
    if "name" in node and not isinstance(node["name"], str):
        problems.append(Problem(f"{where}.name", f"{name}: name must be a string"))
    kind = node.get("type")
    if kind not in NODE_TYPES:
        reason = f"{name}: {kind!r} is not one of {', '.join(NODE_TYPES)}"
        problems.append(Problem(f"{where}.type", reason))
    elif kind == "Delay":
        problems += [Problem(f"{where}.{k}", f"{name}: {r}") for k, r in _delay_problems(node)]
    elif kind == "Webhook":
        problems += [Problem(f"{where}.{k}", f"{name}: {r}") for k, r in _webhook_problems(node)]
    return problems


def _delay_problems(node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    n, unit, minute = node.get("delay_n"), node.get("delay_unit"), node.get("minute_of_day")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        yield "delay_n", f"delay_n must be an integer >= 0, got {n!r}"
    if unit not in DELAY_UNITS:
        yield "delay_unit", f"{unit!r} is not one of {', '.join(DELAY_UNITS)}"
    elif isinstance(n, int) and n * DELAY_UNITS[unit] > MAX_DELAY_SECONDS:
        yield "delay_n", f"{n} {unit} is longer than the longest delay, about ten years"
    if minute is None:
        return
    if isinstance(minute, bool) or not isinstance(minute, int | float) or not math.isfinite(minute):
        yield "minute_of_day", f"minute_of_day must be a number, got {minute!r}"
    elif not 0 <= minute < MINUTES_PER_DAY:
        yield "minute_of_day", f"minute_of_day must be 0 <= m < {MINUTES_PER_DAY}, got {minute}"
    elif unit in DELAY_UNITS and unit not in DAY_AND_LONGER:
        yield "minute_of_day", f"minute_of_day applies to day and longer, not to {unit!r}"


def _webhook_problems(node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    url = node.get("url")
    if reason := "is required" if url is None else _url_problem(url):
        yield "url", f"url {reason}"
    for key in ("headers", "params"):
        value = node.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            yield key, f"{key} must be a string of 'key: value' lines"
            continue
        for number, line in enumerate(value.split("\n"), start=1):
            if reason := _line_problem(line.rstrip("\r"), header=key == "headers"):
                yield key, f"{key} line {number} {reason}"


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return "must be a string"
    if any(c.isspace() for c in url) or _CONTROL.search(url):
        return f"{url!r} must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} must be an absolute http or https URL with a host"
    return None


def _line_problem(line: str, *, header: bool) -> str | None:
    if not line.strip():
        return None
    key, colon, value = line.partition(":")
    if not colon or not key.strip():
        return f"{line!r} must be 'key: value'"
    if header and not _TOKEN.fullmatch(key):
        return f"{key!r} is not a valid header name (letters, digits and !#$%&'*+.^_`|~-)"
    if header and _CONTROL.search(value):
        return f"{key!r} has a control character in its value"
    return None


def _edge_pairs(
    edges: list[Any], ids: dict[str, int], field: str, problems: list[Problem]
) -> dict[int, tuple[str, str]]:
    """Edge index -> (from, to) for the usable edges; a problem for each other one."""
    pairs: dict[int, tuple[str, str]] = {}
    seen: dict[tuple[str, str], int] = {}
    for index, edge in enumerate(edges):
        reason = None
        if not isinstance(edge, str):
            reason = f"edge #{index}: must be a string 'from-to', got {edge!r}"
        elif len(splits := list(edge_splits(edge, ids))) != 1:
            reason = f"edge {edge!r}: " + _split_problem(edge, ids, splits)
        elif splits[0][0] == splits[0][1]:
            reason = f"edge {edge!r}: node {splits[0][0]!r} cannot lead to itself"
        elif splits[0] in seen:
            reason = f"edge {edge!r}: repeats edges[{seen[splits[0]]}]"
        if reason:
            problems.append(Problem(f"{field}.edges[{index}]", reason))
            continue
        seen[splits[0]] = index
        pairs[index] = splits[0]
    return pairs


def _split_problem(edge: str, ids: dict[str, int], splits: list[tuple[str, str]]) -> str:
    if splits:
        options = " or ".join(f"{a!r} -> {b!r}" for a, b in splits)
        return f"ambiguous, it can join {options}"
    halves = [(edge[:at], edge[at + 1 :]) for at, char in enumerate(edge) if char == "-"]
    if not halves:
        return "must be two node ids joined by '-'"
    left, right = next((h for h in halves if h[0] in ids or h[1] in ids), halves[0])
    missing = [repr(side) for side in (left, right) if side not in ids]
    return f"no node {' and no node '.join(missing)}"


def _graph_problems(
    nodes: list[Any], ids: dict[str, int], pairs: dict[int, tuple[str, str]], field: str
) -> list[Problem]:
    """One Start, nothing into it, no cycle, every node reachable from it."""
    starts = [i for i, n in enumerate(nodes) if isinstance(n, dict) and n.get("type") == "Start"]
    if nodes and not starts:
        return [Problem(f"{field}.nodes", "needs exactly one node of type Start, found none")]
    problems = [
        Problem(f"{field}.nodes[{i}]", f"node {nodes[i].get('id')!r}: a second Start node")
        for i in starts[1:]
    ]
    start = nodes[starts[0]].get("id") if starts else None
    into_start = [i for i, (_, to) in pairs.items() if to == start]
    problems += [
        Problem(f"{field}.edges[{i}]", f"edge '{pairs[i][0]}-{start}': leads into the Start node")
        for i in into_start
    ]
    others = {i: pair for i, pair in pairs.items() if i not in into_start}  # no cycle twice
    problems += _cycle_problems(ids, others, field)
    if start not in ids:
        return problems  # no nodes, or a Start without a usable id (reported already)
    unreachable = set(ids) - _reachable(start, others) - {nodes[i].get("id") for i in starts}
    return problems + [
        Problem(f"{field}.nodes[{i}]", f"node {n!r}: not reachable from the Start node {start!r}")
        for n, i in ids.items()
        if n in unreachable
    ]


def _reachable(start: str, pairs: dict[int, tuple[str, str]]) -> set[str]:
    successors: dict[str, set[str]] = {}
    for source, to in pairs.values():
        successors.setdefault(source, set()).add(to)
    reached, frontier = {start}, [start]
    while frontier:
        targets = successors.get(frontier.pop(), set()) - reached
        reached |= targets
        frontier += targets
    return reached


def _cycle_problems(
    ids: dict[str, int], pairs: dict[int, tuple[str, str]], field: str
) -> list[Problem]:
    """The edge that closes a cycle, if any (one is enough to refuse; fixing it shows the next)."""
    predecessors: dict[str, set[str]] = {node: set() for node in ids}
    for source, target in pairs.values():
        predecessors[target].add(source)
    try:
        TopologicalSorter(predecessors).prepare()
    except CycleError as e:
        cycle: list[str] = e.args[1]  # each node leads to the next; the last is the first
        index = next(i for i, pair in pairs.items() if pair == (cycle[-2], cycle[-1]))
        path = " -> ".join(["..."] * (len(cycle) > 6) + [repr(node) for node in cycle[-6:]])
        reason = f"edge '{cycle[-2]}-{cycle[-1]}': closes a cycle {path}"
        return [Problem(f"{field}.edges[{index}]", reason)]
    return []
