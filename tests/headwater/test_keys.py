"""`headwater keys` and the project registry: hashed secrets, lookups, revocation, reloading."""

from pathlib import Path

import pytest

from gateway.projects import ProjectSource
from headwater.keys import create_key, list_keys, revoke_key
from runtime.errors import HeadwaterError


def test_created_keys_are_found_and_only_their_hashes_are_stored(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    rk = create_key(path, "acme", "embeddables")
    usermaven = create_key(path, "acme", "usermaven")
    token = create_key(path, "acme", "vemetric")
    stored = path.read_text()
    assert rk not in stored and usermaven.split(".")[1] not in stored and token in stored
    registry = ProjectSource(path).registry
    api_key, server_token = usermaven.split(".")
    assert registry.by_embeddables_key(rk).id == "acme"  # type: ignore[union-attr]
    assert registry.by_usermaven_token(api_key, server_token).id == "acme"  # type: ignore[union-attr]
    assert registry.by_usermaven_token(api_key, "wrong") is None
    assert registry.by_vemetric_token(token).id == "acme"  # type: ignore[union-attr]


def test_revoked_keys_stop_working_after_a_refresh(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    rk = create_key(path, "acme", "embeddables")
    source = ProjectSource(path)
    [row] = list_keys(path)
    revoke_key(path, "acme", row.key_id)
    assert source.refresh()
    assert source.registry.by_embeddables_key(rk) is None
    with pytest.raises(HeadwaterError):
        revoke_key(path, "acme", row.key_id)


def test_a_broken_projects_file_keeps_the_last_good_registry(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    token = create_key(path, "acme", "vemetric")
    source = ProjectSource(path)
    path.write_text("{not json")
    assert not source.refresh()
    assert source.registry.by_vemetric_token(token) is not None


def test_projects_can_come_from_the_environment() -> None:
    source = ProjectSource(None, '{"projects": [{"id": "p", "vemetric_tokens": ["proj_x"]}]}')
    assert source.registry.by_vemetric_token("proj_x").id == "p"  # type: ignore[union-attr]
