"""The workflow template: the seed's example is valid, and every other kind of mistake is named by
its place (`template.nodes[2].delay_unit`) and by the node or edge it is about."""

import copy
from typing import Any

import pytest

from gateway.errors import Problem
from gateway.workflows.forms import parse_form
from gateway.workflows.template import (
    actions_count,
    coerce_form_template,
    validate_template,
)
from schemas.templates import parse_edge

# The seed's "workflow template object" example, as sent.
SEED_TEMPLATE: dict[str, Any] = {
    "nodes": [
        {
            "id": "a",
            "name": "Wait 2 hours",
            "type": "Delay",
            "delay_n": 2,
            "delay_unit": "hour",
        },
        {
            "id": "b",
            "name": "Webhook 1",
            "type": "Webhook",
            "url": "https://domain.com/webhook_example_1",
            "headers": "X-Custom-Header: my_value",
            "params": "one: 1\ntwo: 2",
        },
        {
            "id": "c",
            "name": "Webhook 2",
            "type": "Webhook",
            "url": "https://domain.com/webhook_example_2",
            "headers": "X-Custom-Header: my_value",
            "params": "one: 1\ntwo: 2",
        },
        {"id": "start_of_workflow", "name": "Start Workflow", "type": "Start"},
    ],
    "edges": ["a-b", "a-c", "start_of_workflow-a"],
    "width": 1500,
    "height": 1200,
    "positions": {
        "start_of_workflow": {"x": 450, "y": 0},
        "a": {"x": 450, "y": 300},
        "b": {"x": 200, "y": 600},
        "c": {"x": 700, "y": 600},
    },
}


SEED_IDS = {node["id"] for node in SEED_TEMPLATE["nodes"]}


def seed_with(**changes: Any) -> dict[str, Any]:
    """The seed's template with node `a` (a Delay) or `b` (a Webhook) changed: `a={...}`; a value
    of `...` removes the attribute."""
    template = copy.deepcopy(SEED_TEMPLATE)
    by_id = {node["id"]: node for node in template["nodes"]}
    for node_id, attributes in changes.items():
        by_id[node_id].update(attributes)
        for key in [k for k, v in attributes.items() if v is ...]:
            del by_id[node_id][key]
    return template


def only_problem(template: Any) -> Problem:
    problems = validate_template(template)
    assert len(problems) == 1, problems
    return problems[0]


def test_the_seed_example_is_valid_with_three_actions() -> None:
    assert validate_template(SEED_TEMPLATE) == []
    assert actions_count(SEED_TEMPLATE) == 3


def test_validation_leaves_the_template_untouched() -> None:
    template = copy.deepcopy(SEED_TEMPLATE)
    validate_template(template)
    assert template == SEED_TEMPLATE


@pytest.mark.parametrize(
    "template",
    [
        {},
        {"nodes": [], "edges": []},
        {"nodes": [{"id": "s", "type": "Start"}], "anything": {"kept": True}},
        {
            "nodes": [
                {"id": "node-1", "type": "Start"},
                {"id": "node-2", "type": "Delay", "delay_n": 0, "delay_unit": "sec"},
                {"id": "x", "type": "Delay", "delay_n": 1, "delay_unit": "day", "minute_of_day": 5},
                {
                    "id": "y",
                    "type": "Delay",
                    "delay_n": 1,
                    "delay_unit": "week",
                    "minute_of_day": 0.5,
                },
                {"id": "z", "type": "Webhook", "url": "http://10.0.0.1:8080/h?q=1", "headers": ""},
            ],
            "edges": ["node-1-node-2", "node-2-x", "node-2-y", "x-z", "y-z"],
        },
    ],
)
def test_valid_templates(template: dict[str, Any]) -> None:
    assert validate_template(template) == []


def test_actions_count_skips_the_start_node() -> None:
    assert actions_count({}) == 0
    assert actions_count({"nodes": [{"id": "s", "type": "Start"}]}) == 0


@pytest.mark.parametrize(
    ("template", "field", "words"),
    [
        ([], "template", "must be an object"),
        ({"nodes": {}}, "template.nodes", "must be an array"),
        ({"edges": "a-b"}, "template.edges", "must be an array"),
    ],
)
def test_the_template_shape(template: Any, field: str, words: str) -> None:
    problem = only_problem(template)
    assert problem.field == field
    assert words in problem.reason


def test_the_field_prefix_is_the_callers() -> None:
    problems = validate_template(seed_with(a={"delay_unit": "fortnight"}), field="template_draft")
    assert problems == [
        Problem(
            "template_draft.nodes[0].delay_unit",
            "node 'a': 'fortnight' is not one of sec, min, hour, day, week, month, year",
        )
    ]


@pytest.mark.parametrize(
    ("node", "changes", "attribute", "reason"),
    [
        ("a", {"delay_unit": "fortnight"}, "delay_unit", "'fortnight' is not one of sec, min"),
        ("a", {"delay_n": ...}, "delay_n", "delay_n must be an integer >= 0, got None"),
        ("a", {"delay_n": -1}, "delay_n", "delay_n must be an integer >= 0, got -1"),
        ("a", {"delay_n": True}, "delay_n", "delay_n must be an integer >= 0, got True"),
        ("a", {"delay_n": "2"}, "delay_n", "delay_n must be an integer >= 0, got '2'"),
        ("a", {"delay_n": 2.5}, "delay_n", "delay_n must be an integer >= 0, got 2.5"),
        ("a", {"delay_n": 11, "delay_unit": "year"}, "delay_n", "11 year is longer than"),
        ("a", {"minute_of_day": 570}, "minute_of_day", "applies to day and longer, not to 'hour'"),
        ("a", {"delay_unit": "day", "minute_of_day": 1440}, "minute_of_day", "0 <= m < 1440"),
        ("a", {"delay_unit": "day", "minute_of_day": "570"}, "minute_of_day", "must be a number"),
        ("b", {"url": ...}, "url", "url is required"),
        ("b", {"url": 5}, "url", "url must be a string"),
        ("b", {"url": "ftp://x.test/a"}, "url", "url 'ftp://x.test/a' must be an absolute http"),
        ("b", {"url": "/relative"}, "url", "must be an absolute http or https URL with a host"),
        ("b", {"url": "https://"}, "url", "must be an absolute http or https URL with a host"),
        ("b", {"url": "https://x.test/a b"}, "url", "must not contain spaces"),
        ("b", {"url": "http://x.test:99999/"}, "url", "is not a valid URL"),
        ("b", {"url": "http://[::1/"}, "url", "is not a valid URL"),
        ("b", {"headers": "X: 1\n\nno colon"}, "headers", "line 3 'no colon' must be 'key: value'"),
        ("b", {"headers": "X Bad: 1"}, "headers", "line 1 'X Bad' is not a valid header name"),
        ("b", {"headers": "X-Ok: a\rb"}, "headers", "line 1 'X-Ok' has a control character"),
        ("b", {"params": "one: 1\n: 2"}, "params", "params line 2 ': 2' must be 'key: value'"),
        ("b", {"params": {"one": 1}}, "params", "params must be a string"),
        ("b", {"type": "Email"}, "type", "'Email' is not one of Start, Delay, Webhook"),
        ("b", {"name": 7}, "name", "name must be a string"),
    ],
)
def test_node_attribute_problems(
    node: str, changes: dict[str, Any], attribute: str, reason: str
) -> None:
    problem = only_problem(seed_with(**{node: changes}))
    assert problem.field == f"template.nodes[{'ab'.index(node)}].{attribute}"
    assert problem.reason.startswith(f"node {node!r}: ")
    assert reason in problem.reason


def test_a_space_in_a_params_key_is_fine() -> None:
    assert validate_template(seed_with(b={"params": "first name: Ada\n\n"})) == []


def graph(*nodes: str, edges: list[Any]) -> dict[str, Any]:
    """Node 's' is the Start; every other node a Delay of one second."""
    delay = {"type": "Delay", "delay_n": 1, "delay_unit": "sec"}
    return {
        "nodes": [{"id": n, "type": "Start"} if n == "s" else {"id": n, **delay} for n in nodes],
        "edges": edges,
    }


@pytest.mark.parametrize(
    ("template", "field", "reason"),
    [
        (
            {"nodes": [{"id": "s", "type": "Start"}, "a"]},
            "template.nodes[1]",
            "node #1: must be an object",
        ),
        ({"nodes": [{"type": "Start"}]}, "template.nodes[0].id", "node #0: id must be a non-empty"),
        ({"nodes": [{"id": "", "type": "Start"}]}, "template.nodes[0].id", "node #0: id must"),
        (graph("s", "a", "a", edges=["s-a"]), "template.nodes[2].id", "node 'a': id is taken"),
        (graph("a", edges=[]), "template.nodes", "needs exactly one node of type Start"),
        (
            {"nodes": [{"id": "s", "type": "Start"}, {"id": "t", "type": "Start"}]},
            "template.nodes[1]",
            "node 't': a second Start node",
        ),
        (graph("s", "a", edges=["s-a", 5]), "template.edges[1]", "edge #1: must be a string"),
        (graph("s", "a", edges=["s-a", "sa"]), "template.edges[1]", "joined by '-'"),
        (graph("s", "a", edges=["s-a", "a-x"]), "template.edges[1]", "edge 'a-x': no node 'x'"),
        (graph("s", "a", edges=["s-a", "x-a"]), "template.edges[1]", "edge 'x-a': no node 'x'"),
        (
            graph("s", "a", edges=["s-a", "x-y"]),
            "template.edges[1]",
            "edge 'x-y': no node 'x' and no node 'y'",
        ),
        (
            graph("s", "a-b", edges=["s-a-b", "a-b-x"]),
            "template.edges[1]",
            "edge 'a-b-x': no node 'x'",
        ),
        (graph("s", "a", edges=["s-a", "s-a"]), "template.edges[1]", "'s-a': repeats edges[0]"),
        (graph("s", "a", edges=["s-a", "a-a"]), "template.edges[1]", "node 'a' cannot lead to"),
        (graph("s", "a", edges=["s-a", "a-s"]), "template.edges[1]", "'a-s': leads into the Start"),
        (
            graph("s", "a", "b", edges=["s-a", "a-b", "b-a"]),
            "template.edges[2]",
            "edge 'b-a': closes a cycle 'a' -> 'b' -> 'a'",
        ),
        (graph("s", "a", "b", edges=["s-a"]), "template.nodes[2]", "node 'b': not reachable"),
    ],
)
def test_graph_problems(template: dict[str, Any], field: str, reason: str) -> None:
    problem = only_problem(template)
    assert problem.field == field
    assert reason in problem.reason


def test_an_ambiguous_edge_is_refused() -> None:
    # "a-b-c" splits as a -> b-c and as a-b -> c: both name existing nodes.
    template = graph("s", "a", "b-c", "a-b", "c", edges=["s-a", "s-a-b", "a-b-c", "a-b-c"])
    problems = validate_template(template)
    assert [p.field for p in problems][:2] == ["template.edges[2]", "template.edges[3]"]
    assert "edge 'a-b-c': ambiguous" in problems[0].reason
    assert "'a' -> 'b-c' or 'a-b' -> 'c'" in problems[0].reason


def test_parse_edge_takes_the_one_split_that_fits() -> None:
    assert parse_edge("a-b", {"a", "b"}) == ("a", "b")
    assert parse_edge("node-1-node-2", {"node-1", "node-2"}) == ("node-1", "node-2")
    assert parse_edge("start_of_workflow-a", SEED_IDS) == ("start_of_workflow", "a")
    assert parse_edge("a-x", {"a", "b"}) is None
    assert parse_edge("ab", {"a", "b"}) is None
    assert parse_edge("a-b-c", {"a", "b-c", "a-b", "c"}) is None


def test_coerce_form_template_turns_numbers_back_into_numbers() -> None:
    body = (
        b"template[nodes][0][id]=s&template[nodes][0][type]=Start"
        b"&template[nodes][1][id]=a&template[nodes][1][type]=Delay"
        b"&template[nodes][1][delay_n]=2&template[nodes][1][delay_unit]=day"
        b"&template[nodes][1][minute_of_day]=570.5&template[edges][]=s-a"
        b"&template[width]=1500&template[height]=1200"
        b"&template[positions][s][x]=450&template[positions][s][y]=-0.5&template[extra]=7"
    )
    template = coerce_form_template(parse_form(body)["template"])
    assert template == {
        "nodes": [
            {"id": "s", "type": "Start"},
            {"id": "a", "type": "Delay", "delay_n": 2, "delay_unit": "day", "minute_of_day": 570.5},
        ],
        "edges": ["s-a"],
        "width": 1500,
        "height": 1200,
        "positions": {"s": {"x": 450, "y": -0.5}},
        "extra": "7",
    }
    assert validate_template(template) == []


def test_coerce_form_template_leaves_the_rest_for_validation() -> None:
    template = {"nodes": [{"id": "a", "delay_n": "two"}, "x"], "width": "wide", "positions": 3}
    assert coerce_form_template(template) == template
    assert coerce_form_template("nope") == "nope"
    assert coerce_form_template({"nodes": "", "edges": ""}) == {"nodes": [], "edges": []}
    form = graph("s", "a", edges=["s-a"])
    form["nodes"][1]["delay_n"] = "1e3"
    problem = only_problem(coerce_form_template(form))
    assert problem == Problem(
        "template.nodes[1].delay_n", "node 'a': delay_n must be an integer >= 0, got '1e3'"
    )
