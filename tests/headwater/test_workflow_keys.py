"""Embed Workflow API keys in `headwater keys` and the development project: four minted at once
and printed once, stored hashed, listed and revoked one by one; the dev project gets the test pair
in `credentials.env`, and a credentials file from before them still loads."""

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.projects import ProjectSource
from gateway.settings import GatewaySettings
from headwater.cli import cli
from headwater.keys import DevCredentials, create_key, ensure_dev_project, list_keys, revoke_key
from headwater.up import _banner
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings

KINDS = ["pk_test", "sk_test", "pk_live", "sk_live"]

OLD_CREDENTIALS = (
    "PROJECT_ID=dev\nVEMETRIC_TOKEN=proj_x\nEMBEDDABLES_KEY=rk_x\nUSERMAVEN_TOKEN=api.server\n"
)


def test_four_keys_are_minted_at_once_and_stored_only_hashed(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    keys = create_key(path, "acme", "workflows").splitlines()
    assert [key[:8] for key in keys] == [f"{kind}_" for kind in KINDS]
    assert all(len(key) > len("sk_test_") + 30 for key in keys) and len(set(keys)) == 4
    stored = path.read_text()
    assert not any(key in stored for key in keys)
    registry = ProjectSource(path).registry
    assert all(registry.by_workflow_key(key) is not None for key in keys)


def test_each_key_is_listed_and_revoked_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    pk_test, sk_test, pk_live, sk_live = create_key(path, "acme", "workflows").splitlines()
    rows = list_keys(path)
    assert [(r.project_id, r.kind, r.label) for r in rows] == [
        ("acme", "workflows", kind) for kind in KINDS
    ]
    source = ProjectSource(path)
    revoke_key(path, "acme", rows[1].key_id)  # sk_test
    assert source.refresh()
    assert source.registry.by_workflow_key(sk_test) is None
    assert all(source.registry.by_workflow_key(k) is not None for k in (pk_test, pk_live, sk_live))
    assert [r.label for r in list_keys(path)] == ["pk_test", "pk_live", "sk_live"]


def test_a_credentials_file_from_before_workflow_keys_still_loads() -> None:
    credentials = DevCredentials.from_env(OLD_CREDENTIALS)
    assert credentials.usermaven_token == "api.server"
    assert credentials.workflows_secret_key == credentials.workflows_publishable_key == ""


def test_the_dev_project_gets_the_test_pair_written_to_credentials_env(tmp_path: Path) -> None:
    settings = HeadwaterSettings(data_dir=tmp_path, projects=None, projects_file=None)
    credentials, created = ensure_dev_project(settings)
    assert created and credentials is not None
    assert credentials.workflows_secret_key.startswith("sk_test_")
    assert credentials.workflows_publishable_key.startswith("pk_test_")
    assert ensure_dev_project(settings) == (credentials, False)  # read back from the file

    registry = ProjectSource(settings.projects_path).registry
    secret = registry.by_workflow_key(credentials.workflows_secret_key)
    publishable = registry.by_workflow_key(credentials.workflows_publishable_key)
    assert secret is not None and (secret[0].id, secret[1].publishable) == ("dev", False)
    assert publishable is not None and publishable[1].publishable
    assert [r.label for r in list_keys(settings.projects_path) if r.kind == "workflows"] == [
        "pk_test",
        "sk_test",
    ]  # its live keys would be held by no one


@pytest.mark.parametrize("with_workflow_keys", [True, False])
def test_the_banner_shows_the_workflow_secret_key_when_there_is_one(
    tmp_path: Path, with_workflow_keys: bool
) -> None:
    credentials = DevCredentials.from_env(
        OLD_CREDENTIALS + ("WORKFLOWS_SECRET_KEY=sk_test_abc\n" if with_workflow_keys else "")
    )
    banner = _banner(
        GatewaySettings(),
        KafkaSettings(),
        ClickHouseSettings(),
        credentials,
        False,
        time.monotonic(),
        tmp_path / "credentials.env",
    )
    assert ("  Workflow API secret key sk_test_abc\n" in banner) is with_workflow_keys
    assert ("webhooks receive" in banner) is with_workflow_keys


def test_the_cli_prints_the_four_keys_once_and_lists_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_DATA_DIR", str(tmp_path))
    for variable in ("HEADWATER_PROJECTS", "HEADWATER_PROJECTS_FILE"):
        monkeypatch.delenv(variable, raising=False)
    created = CliRunner().invoke(cli, ["keys", "create", "acme", "--kind", "workflows"])
    assert created.exit_code == 0, created.output
    keys = created.output.splitlines()
    assert [key[:8] for key in keys] == [f"{kind}_" for kind in KINDS]

    listed = CliRunner().invoke(cli, ["keys", "list"])
    rows = [line.split() for line in listed.output.splitlines()]
    assert [(row[0], row[1], row[3]) for row in rows] == [("acme", "workflows", k) for k in KINDS]
    registry = ProjectSource(tmp_path / "projects.json").registry
    assert all(registry.by_workflow_key(key) is not None for key in keys)
