"""`headwater keys`: created keys are found and only their hashes stored; revoked keys stop working.

The registry's own rules (reloading, a broken file, inline projects) are tested with it, in
tests/gateway/test_projects.py."""

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
