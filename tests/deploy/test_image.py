"""deploy/Dockerfile, read rather than built (no Docker engine here): its entrypoint is the CLI, its
default command exists, it runs as a non-root user on a pinned base, and it copies every package
the project ships."""

import json
import re
import tomllib

from headwater.envfile import settings_from_env
from tests.conftest import ROOT
from tests.deploy.conftest import DEPLOY, cli_commands

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    return re.findall(rf"^{name} (.+)$", DOCKERFILE, re.MULTILINE)


def test_entrypoint_is_the_cli_and_the_default_command_exists() -> None:
    [entrypoint] = instruction("ENTRYPOINT")
    [command] = instruction("CMD")
    assert json.loads(entrypoint) == ["headwater"]
    assert all(c in cli_commands() for c in json.loads(command)[:1])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["headwater"] == "headwater.cli:main"


def test_the_commands_the_docs_name_exist() -> None:
    assert {"gateway", "process", "engine", "sink", "migrate", "topics", "keys", "dlq"} <= (
        cli_commands()
    )


def test_runs_unprivileged_on_a_pinned_base() -> None:
    [user] = instruction("USER")
    assert not user.startswith(("0", "root"))
    [base] = [a for a in instruction("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+", base), base


def test_copies_every_package_and_sets_only_known_settings() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]
    copied = {line.split()[0] for line in instruction("COPY") if "--from" not in line}
    assert {p.split(".")[0] for p in packages} <= copied
    blocks = re.findall(r"^ENV ((?:.*\\\n)*.*)$", DOCKERFILE, re.MULTILINE)
    variables = dict(re.findall(r"(\w+)=(\S+)", "\n".join(blocks)))
    settings_from_env({k: v for k, v in variables.items() if k.startswith("HEADWATER_")})
    assert variables["HEADWATER_DATA_DIR"] == "/var/lib/headwater"
