"""Form bodies and query strings with bracket nesting: the shapes Rack and Stripe build, and every
ambiguous or abusive key refused with the key it came from."""

from typing import Any
from urllib.parse import quote

import pytest

from gateway.workflows.forms import MAX_DEPTH, MAX_PAIRS, FormError, parse_form, parse_query


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"name=x", {"name": "x"}),
        (b"name=", {"name": ""}),
        (b"name", {"name": ""}),
        (b"a=1&&b=2&", {"a": "1", "b": "2"}),
        (b"name=New+user%20%C3%A9", {"name": "New user \u00e9"}),
        (b"expand[]=a&expand[]=b", {"expand": ["a", "b"]}),
        (b"expand%5B%5D=a", {"expand": ["a"]}),
        (
            b"template[nodes][0][id]=a&template[nodes][0][type]=Start&template[edges][]=a-b",
            {"template": {"nodes": [{"id": "a", "type": "Start"}], "edges": ["a-b"]}},
        ),
        (
            b"execution_data[user][name]=x&execution_data[user][plan]=pro",
            {"execution_data": {"user": {"name": "x", "plan": "pro"}}},
        ),
        (b"a[1]=second&a[0]=first", {"a": ["first", "second"]}),
        (b"a[10]=k&" + b"&".join(b"a[%d]=v" % i for i in range(10)), {"a": ["v"] * 10 + ["k"]}),
        (b"a[0][b][0]=x&a[0][b][1]=y", {"a": [{"b": ["x", "y"]}]}),
        (
            b"a[][id]=1&a[][name]=x&a[][id]=2",
            {"a": [{"id": "1", "name": "x"}, {"id": "2"}]},
        ),
        (b"a[][b][c]=1&a[][b][d]=2", {"a": [{"b": {"c": "1", "d": "2"}}]}),
        (b"a[0]=x&b=y", {"a": ["x"], "b": "y"}),
        (b"0=x", {"0": "x"}),
    ],
)
def test_parse_form_builds_nested_values(body: bytes, expected: dict[str, Any]) -> None:
    assert parse_form(body) == expected


def test_a_repeated_leaf_keeps_the_last_value() -> None:
    assert parse_form(b"a=1&a=2") == {"a": "2"}
    assert parse_form(b"a[b]=1&a[b]=2") == {"a": {"b": "2"}}
    assert parse_form(b"a[0]=1&a[0]=2") == {"a": ["2"]}


def test_the_result_is_plain_dicts_and_lists() -> None:
    parsed = parse_form(b"a[b][0][c]=1&d[]=2")
    assert type(parsed) is dict
    assert type(parsed["a"]) is dict
    assert type(parsed["a"]["b"]) is list
    assert type(parsed["a"]["b"][0]) is dict


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"a=1&a[b]=2", "a[b]", "conflicts"),
        (b"a[b]=2&a=1", "a", "conflicts"),
        (b"a[]=1&a[x]=2", "a[x]", "conflicts"),
        (b"a[x]=1&a[]=2", "a[]", "conflicts"),
        (b"a[0]=1&a[x]=2", "a[x]", "conflicts"),
        (b"a[x]=1&a[0]=2", "a[0]", "conflicts"),
        (b"a[]=1&a[0]=2", "a[0]", "conflicts"),
        (b"a[0]=1&a[]=2", "a[]", "conflicts"),
        (b"a[b][c]=1&a[b]=2", "a[b]", "conflicts"),
        (b"a[b=1", "a[b", "malformed brackets"),
        (b"a[b]c=1", "a[b]c", "malformed brackets"),
        (b"a[b]]=1", "a[b]]", "malformed brackets"),
        (b"a]=1", "a]", "must start with a name"),
        (b"[a]=1", "[a]", "must start with a name"),
        (b"=1", "body", "empty name"),
        (b"a[][]=1", "a[][]", "may only be followed by a name"),
        (b"a[0]=x&a[2]=y", "a", "indices must run 0..1"),
        (b"a[1]=x", "a", "indices must run 0..0"),
        (b"t[nodes][1][id]=x", "t[nodes]", "indices must run"),
        (b"a[99999]=x", "a[99999]", "index beyond"),
        (b"a=%FF", "body", "UTF-8"),
        (b"a=\xff", "body", "UTF-8"),
    ],
)
def test_parse_form_refuses_ambiguous_keys(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(FormError) as caught:
        parse_form(body)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_nesting_is_capped() -> None:
    deep = "a" + "[b]" * MAX_DEPTH
    assert parse_form(f"{deep}=1".encode())  # exactly at the limit
    with pytest.raises(FormError) as caught:
        parse_form(f"{deep}[c]=1".encode())
    assert caught.value.field == deep + "[c]"
    assert "deeper than 16" in caught.value.reason


def test_the_number_of_pairs_is_capped() -> None:
    at_limit = "&".join(f"k{i}=v" for i in range(MAX_PAIRS))
    assert len(parse_form(at_limit.encode())) == MAX_PAIRS
    with pytest.raises(FormError) as caught:
        parse_form((at_limit + "&one=more").encode())
    assert (caught.value.field, caught.value.reason) == ("body", "has more than 1000 parameters")


def test_parse_query_uses_the_same_rules() -> None:
    assert parse_query([("expand[]", "event_trigger"), ("limit", "5")]) == {
        "expand": ["event_trigger"],
        "limit": "5",
    }
    with pytest.raises(FormError) as caught:
        parse_query([("a", "1"), ("a[b]", "2")])
    assert caught.value.field == "a[b]"
    with pytest.raises(FormError) as caught:
        parse_query([("k", "v")] * (MAX_PAIRS + 1))
    assert caught.value.field == "query"


def test_form_error_carries_field_and_reason() -> None:
    error = FormError("a[b", "has malformed brackets")
    assert (error.field, error.reason, str(error)) == (
        "a[b",
        "has malformed brackets",
        "a[b: has malformed brackets",
    )


def test_values_with_brackets_and_equals_stay_as_sent() -> None:
    body = f"url={quote('https://x.test/?a[]=1&b=2', safe='')}".encode()
    assert parse_form(body) == {"url": "https://x.test/?a[]=1&b=2"}
