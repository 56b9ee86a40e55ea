"""Resolving a credential to its project, and each vendor's refusal of a missing, unknown or
misplaced one; no Kafka."""

import pytest

from gateway.auth import Credential, CredentialKind, Refusal, authenticate
from gateway.errors import Forbidden, InvalidPayload, Unauthorized
from gateway.projects import Project, ProjectRegistry, UsermavenKey, hash_secret

REFUSAL = Refusal(Unauthorized, "X-Key", missing="send one", unknown="no such key")
ACME = Project(
    id="acme",
    vemetric_tokens=["proj_acme"],
    embeddables_key_hashes=[hash_secret("rk_acme")],
    usermaven_keys=[UsermavenKey(api_key="um_acme", server_token_hash=hash_secret("secret"))],
)
REGISTRY = ProjectRegistry([ACME, Project(id="other", vemetric_tokens=["proj_other"])])


@pytest.mark.parametrize(
    ("kind", "key", "secret"),
    [
        ("vemetric_token", "proj_acme", None),
        ("embeddables_key", "rk_acme", None),
        ("usermaven_api_key", "um_acme", None),  # the browser tracker's public key alone
        ("usermaven_token", "um_acme", "secret"),
    ],
)
def test_each_kind_of_credential_finds_its_project(
    kind: CredentialKind, key: str, secret: str | None
) -> None:
    assert authenticate(Credential(kind, key, REFUSAL, secret), REGISTRY) is ACME


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        (Credential("vemetric_token", "", REFUSAL), "send one"),
        (Credential("usermaven_token", "um_acme", REFUSAL, ""), "send one"),  # no server token
        (Credential("usermaven_token", "", REFUSAL, "secret"), "send one"),
        (Credential("vemetric_token", "proj_nope", REFUSAL), "no such key"),
        (Credential("embeddables_key", "rk_nope", REFUSAL), "no such key"),
        (Credential("usermaven_token", "um_acme", REFUSAL, "wrong"), "no such key"),
        (Credential("usermaven_api_key", "um_nope", REFUSAL), "no such key"),
    ],
)
def test_a_missing_or_unknown_credential_is_refused_as_its_vendor_does(
    credential: Credential, reason: str
) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticate(credential, REGISTRY)
    [problem] = caught.value.problems
    assert (problem.field, problem.reason) == ("X-Key", reason)


def test_the_refusal_class_sets_the_status() -> None:
    vemetric = Refusal(InvalidPayload, "projectToken", missing="missing", unknown="unknown")
    with pytest.raises(InvalidPayload) as caught:
        authenticate(Credential("vemetric_token", "proj_nope", vemetric), REGISTRY)
    assert caught.value.status == 400


def test_a_key_of_another_project_than_the_paths_is_403() -> None:
    credential = Credential("embeddables_key", "rk_acme", REFUSAL, project_id="other")
    with pytest.raises(Forbidden) as caught:
        authenticate(credential, REGISTRY)
    assert str(caught.value) == "X-Key: this key belongs to another project"
    assert (
        authenticate(Credential("embeddables_key", "rk_acme", REFUSAL, project_id="acme"), REGISTRY)
        is ACME
    )
