"""What the deploy manifests are checked with: kustomize, the rendered overlays, and what the code
says a component needs (its CLI commands and settings).

No Docker engine or Kubernetes cluster runs here; kustomize is built once from the Go module proxy
into the cache folder (`~/.cache/headwater/bin`) when it is not on the PATH."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.cli import cli
from runtime.settings import HeadwaterSettings
from tests.conftest import ROOT

KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"  # v5.8 needs Go 1.27
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")

Manifest = dict[str, Any]


@pytest.fixture(scope="session")
def kustomize() -> Path:
    found = shutil.which("kustomize")
    if found:
        return Path(found)
    bin_dir = HeadwaterSettings().cache_dir.expanduser() / "bin"
    built = bin_dir / "kustomize"
    if not built.exists():
        go = shutil.which("go")
        assert go, "kustomize is not installed and Go is missing to build it"
        subprocess.run(
            [go, "install", KUSTOMIZE], env=os.environ | {"GOBIN": str(bin_dir)}, check=True
        )
    return built


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[Manifest]]:
    """Each overlay's resources, as `kustomize build` renders them."""
    return {
        overlay: [
            doc
            for doc in yaml.safe_load_all(
                subprocess.run(
                    [kustomize, "build", DEPLOY / "k8s" / "overlays" / overlay],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            if doc
        ]
        for overlay in OVERLAYS
    }


def cli_commands() -> set[str]:
    return set(cli.list_commands(None))  # type: ignore[arg-type]
