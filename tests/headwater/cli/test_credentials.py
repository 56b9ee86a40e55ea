"""`headwater keys create | list | revoke` as an operator runs them: credentials printed once,
listed by the ids `revoke` takes, and refused while projects come from the environment."""

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.projects import ProjectSource
from headwater.cli import cli, main
from runtime.errors import HeadwaterError


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of the test's own, with the projects file in it."""
    monkeypatch.setenv("HEADWATER_DATA_DIR", str(tmp_path))
    for variable in ("HEADWATER_PROJECTS", "HEADWATER_PROJECTS_FILE"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def keys(*args: str) -> Result:
    return CliRunner().invoke(cli, ["keys", *args])


def keys_ok(*args: str) -> str:
    result = keys(*args)
    assert result.exit_code == 0, result.output
    return result.output


def test_created_keys_are_printed_once_and_work_at_the_gateway(data_dir: Path) -> None:
    token = keys_ok("create", "acme", "--kind", "vemetric").strip()
    rk = keys_ok("create", "acme", "--kind", "embeddables").strip()
    api_key, server_token = keys_ok("create", "shop", "--kind", "usermaven").strip().split(".")
    assert token.startswith("proj_") and rk.startswith("rk_")

    registry = ProjectSource(data_dir / "projects.json").registry
    found = (
        registry.by_vemetric_token(token),
        registry.by_embeddables_key(rk),
        registry.by_usermaven_token(api_key, server_token),
    )
    assert [p.id if p else None for p in found] == ["acme", "acme", "shop"]
    stored = (data_dir / "projects.json").read_text()
    assert rk not in stored and server_token not in stored


def test_list_names_each_key_as_revoke_takes_it(data_dir: Path) -> None:
    token = keys_ok("create", "acme", "--kind", "vemetric").strip()
    api_key = keys_ok("create", "acme", "--kind", "usermaven").split(".")[0]
    rows = [line.split() for line in keys_ok("list").splitlines()]
    assert rows == [["acme", "vemetric", token], ["acme", "usermaven", api_key]]

    assert keys_ok("revoke", "acme", token) == f"revoked vemetric key {token} of acme\n"
    assert [line.split() for line in keys_ok("list").splitlines()] == [rows[1]]


def test_an_empty_data_folder_lists_nothing(data_dir: Path) -> None:
    assert keys_ok("list") == ""


def test_revoking_an_unknown_key_fails_and_changes_nothing(data_dir: Path) -> None:
    token = keys_ok("create", "acme", "--kind", "vemetric").strip()
    result = keys("revoke", "acme", "proj_unknown")
    assert isinstance(result.exception, HeadwaterError)
    assert "no key 'proj_unknown' in project 'acme'" in str(result.exception)
    assert token in keys_ok("list")


@pytest.mark.parametrize(
    "args", [("create", "acme"), ("create", "acme", "--kind", "github"), ("revoke", "acme")]
)
def test_a_usage_mistake_is_a_usage_error(data_dir: Path, args: tuple[str, ...]) -> None:
    assert keys(*args).exit_code == 2
    assert not (data_dir / "projects.json").exists()


def test_keys_are_refused_while_projects_come_from_the_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEADWATER_PROJECTS", '{"projects": []}')
    monkeypatch.setattr(sys, "argv", ["headwater", "keys", "create", "acme", "--kind", "vemetric"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "headwater: projects come from HEADWATER_PROJECTS here; edit that instead\n"
    )
    assert not (data_dir / "projects.json").exists()
