"""Who calls the Embed Workflow API: a key as `Bearer` or as the Basic user name finds its project,
environment and kind; every other header is refused with a reason that never repeats the key; and a
publishable key is refused wherever a secret one is needed."""

import base64
from collections.abc import Callable
from typing import Literal

import pytest

from gateway.errors import Forbidden, Unauthorized
from gateway.projects import Project, ProjectRegistry
from gateway.workflows.auth import Caller, caller_of, require_secret
from headwater.keys import mint_key

ACME, ACME_KEYS = mint_key(Project(id="acme"), "workflows")
OTHER, OTHER_KEYS = mint_key(Project(id="other"), "workflows")
REGISTRY = ProjectRegistry([OTHER, ACME])
KEYS = dict(zip(("pk_test", "sk_test", "pk_live", "sk_live"), ACME_KEYS.splitlines(), strict=True))


def basic(user_and_password: str) -> str:
    return "Basic " + base64.b64encode(user_and_password.encode()).decode()


@pytest.mark.parametrize(
    ("kind", "environment", "publishable"),
    [
        ("pk_test", "test", True),
        ("sk_test", "test", False),
        ("pk_live", "live", True),
        ("sk_live", "live", False),
    ],
)
def test_each_key_names_its_project_environment_and_kind(
    kind: str, environment: Literal["test", "live"], publishable: bool
) -> None:
    assert caller_of(f"Bearer {KEYS[kind]}", REGISTRY) == Caller(ACME, environment, publishable)


@pytest.mark.parametrize(
    "header",
    [
        lambda key: f"Bearer {key}",
        lambda key: f"bearer {key}",
        lambda key: f"BEARER   {key}  ",
        lambda key: f"  Bearer\t{key}",
        lambda key: basic(f"{key}:"),
        lambda key: basic(key),  # no colon: the whole of it is the user name
        lambda key: basic(f"{key}:ignored-password"),
        lambda key: "basic  " + basic(f"{key}:").split()[1],
    ],
    ids=[
        "bearer",
        "lower case",
        "extra spaces",
        "tab",
        "basic",
        "basic without colon",
        "basic with password",
        "basic lower case",
    ],
)
def test_the_key_is_read_from_bearer_or_basic(header: Callable[[str], str]) -> None:
    assert caller_of(header(KEYS["sk_test"]), REGISTRY) == Caller(ACME, "test", False)


def test_another_projects_key_names_that_project() -> None:
    assert caller_of(f"Bearer {OTHER_KEYS.splitlines()[1]}", REGISTRY).project == OTHER


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("Bearer", "no API key after"),
        ("Bearer   ", "no API key after"),
        ("Basic ", "no API key after"),
        (basic(":SECRET"), "no API key after"),
        ("SECRET", "unsupported scheme"),  # a bare key, no scheme
        ("Token SECRET", "unsupported scheme"),
        ("Digest username=SECRET", "unsupported scheme"),
        ("Basic SECRET!!", "malformed Basic credentials"),
        ("Basic " + base64.b64encode(b"\xffSECRET").decode(), "malformed Basic credentials"),
        ("Bearer SECRET", "not an Embed Workflow API key"),
        ("Bearer rk_SECRET", "not an Embed Workflow API key"),
        ("Bearer sk_prod_SECRET", "not an Embed Workflow API key"),
        ("Bearer sk_test_SECRET", "unknown API key"),
        ("Bearer pk_live_SECRET", "unknown API key"),
        (basic("sk_live_SECRET:"), "unknown API key"),
    ],
)
def test_a_bad_header_is_refused_saying_why_without_echoing_it(
    header: str | None, reason: str
) -> None:
    with pytest.raises(Unauthorized) as refused:
        caller_of(header, REGISTRY)
    [problem] = refused.value.problems
    assert problem.field == "Authorization" and problem.reason.startswith(reason)
    assert "SECRET" not in str(refused.value) and refused.value.status == 401


def test_a_key_sent_without_a_scheme_is_not_echoed() -> None:
    with pytest.raises(Unauthorized) as refused:
        caller_of(KEYS["sk_test"], REGISTRY)
    assert KEYS["sk_test"] not in str(refused.value)


def test_each_refusal_has_its_own_reason() -> None:
    reasons = set()
    for header in (None, "Bearer", "Token x", "Basic !", "Bearer x", "Bearer sk_test_x"):
        with pytest.raises(Unauthorized) as refused:
            caller_of(header, REGISTRY)
        reasons.add(refused.value.problems[0].reason)
    assert len(reasons) == 6


@pytest.mark.parametrize("environment", ["test", "live"])
def test_a_publishable_key_is_refused_where_a_secret_one_is_needed(
    environment: Literal["test", "live"],
) -> None:
    with pytest.raises(Forbidden) as refused:
        require_secret(Caller(ACME, environment, publishable=True), "creating a workflow")
    [problem] = refused.value.problems
    assert refused.value.status == 403 and problem.field == "Authorization"
    assert problem.reason == (
        f"creating a workflow needs a secret key (sk_{environment}_…); "
        "publishable keys may only trigger events"
    )


def test_a_secret_key_may_do_anything() -> None:
    require_secret(Caller(ACME, "live", publishable=False), "creating a workflow")
