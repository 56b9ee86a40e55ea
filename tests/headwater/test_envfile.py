"""The operators' env file (`headwater settings`) stays in sync with the settings classes."""

from headwater.envfile import render_env_file
from tests.conftest import ROOT


def test_deploy_env_file_lists_every_setting() -> None:
    # After changing a settings class: `headwater settings > deploy/headwater.env`
    assert (ROOT / "deploy" / "headwater.env").read_text() == render_env_file()
