"""The building's rules, checked: imports run one way and modules stay small.

schemas -> runtime -> components (gateway, processors, sinks; never each other) -> headwater (the
CLI and the local stack, the only package that imports components). Tests and benchmarks may
import anything. A module that grows past `MAX_LINES` is doing more than one job.
"""

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAX_LINES = 300
COMPONENTS = {"gateway", "processors", "engine", "sinks"}
# What each package may import among Headwater's own top-level packages (besides itself).
ALLOWED = {
    "schemas": set(),
    "runtime": {"schemas"},
    **{component: {"runtime", "schemas"} for component in COMPONENTS},
    "headwater": {"runtime", "schemas", *COMPONENTS},
}
OURS = set(ALLOWED) | {"tests", "bench"}


def modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    """Every top-level package of ours that `path` imports, at any depth of the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_one_way(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imports - ALLOWED[package] - {package})
        for path in modules(package)
        if (imports := imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert wrong == {}


def test_no_module_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in modules(*ALLOWED, "bench", "tests")
        if "node_modules" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_every_package_is_installed() -> None:
    """pyproject.toml lists the packages a (non-editable) install copies, as the image does: a
    package missing there works in the development venv and fails in the container."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for package in ALLOWED
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert found == listed
