"""The compose stack as an operator runs it, driven from the tests: podman-compose over
deploy/compose/compose.yaml, with the stand-in images where no registry can be reached.

Every call goes through the same commands an operator types (`podman-compose … up -d`,
`podman-compose run --rm gateway keys create …`, `podman healthcheck run …`), with podman's
settings for this kind of machine from deploy/standins/containers.conf.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

__all__ = ["COMPOSE_DIR", "Stack", "require_containers"]

COMPOSE_DIR = ROOT / "deploy" / "compose"
STANDINS = ROOT / "deploy" / "standins"
PROJECT = "headwater"  # compose.yaml's `name`
LONG_RUNNING = ("kafka", "clickhouse", "gateway", "loadbalancer", "processors", "engine", "sink")
ENGINE_ENV = COMPOSE_DIR / "engine.env"  # the engine's signing key (compose.yaml's comment)


def require_containers() -> None:
    """Fail with what to install when this machine cannot run the stack."""
    missing = [tool for tool in ("podman", "podman-compose") if _which(tool) is None]
    if missing:
        raise AssertionError(
            f"the compose test needs {', '.join(missing)}: `make containers` installs podman, "
            "runc and debootstrap (as root, from Debian's packages); podman-compose comes with "
            "the test extras"
        )


def _which(tool: str) -> str | None:
    beside = Path(sys.executable).with_name(tool)  # the venv's podman-compose
    return str(beside) if beside.exists() else shutil.which(tool)


@dataclass
class Stack:
    """One compose project on this machine; `env` is what every command runs with."""

    password: str = field(default_factory=lambda: secrets.token_hex(16))
    anonymous: set[str] = field(default_factory=set)  # the image's data volumes, as seen

    def __post_init__(self) -> None:
        """The engine's env file, made once as an operator makes it (compose needs it for every
        command); an existing one is kept, as an operator keeps theirs."""
        if not ENGINE_ENV.exists():
            key = secrets.token_hex(32)
            descriptor = os.open(ENGINE_ENV, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as env_file:
                env_file.write(f"HEADWATER_ENGINE_SIGNING_KEY={key}\n")

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(STANDINS / "containers.conf"),
            "CLICKHOUSE_PASSWORD": self.password,
        }

    def build(self) -> float:
        """Build every image (deploy/standins/build.sh); the seconds it took."""
        started = time.monotonic()
        self._run(["bash", str(STANDINS / "build.sh")], timeout=1800)
        return time.monotonic() - started

    def compose(self, *args: str, timeout: float = 600) -> str:
        command = [_which("podman-compose") or "podman-compose", "-f", "compose.yaml"]
        command += ["-f", "compose.standins.yaml", *args]
        return self._run(command, timeout=timeout)

    def podman(self, *args: str, timeout: float = 120) -> str:
        return self._run(["podman", *args], timeout=timeout)

    def containers(self, service: str, every: bool = False) -> list[str]:
        """The running containers of `service` (`every`: stopped ones too), by name."""
        project = f"label=io.podman.compose.project={PROJECT}"
        service_label = f"label=io.podman.compose.service={service}"
        names = self.podman(
            "ps", *(["-a"] if every else []), "--format", "{{.Names}}",
            "--filter", project, "--filter", service_label,
        )  # fmt: skip
        return sorted(names.split())

    def inspect(self, container: str) -> dict[str, object]:
        [found] = json.loads(self.podman("inspect", container))
        return dict(found)

    def up(self, *args: str) -> None:
        """`up -d`, with `--no-deps`: podman-compose gives podman 4.3 (Debian 12's) each
        service's dependencies as `--requires`, and podman then fails to start a container whose
        one-shot dependency has exited ("not found in input list"), and waits forever on it.
        Every Headwater service waits for what it needs by itself, so none is lost."""
        self.compose("up", "-d", "--no-deps", *args)

    def down(self, *args: str) -> None:
        """`down`, remembering the anonymous volumes (the image's `VOLUME`) of the containers it
        removes: podman-compose's `down -v` removes only the volumes the file names, where
        Docker Compose also removes these (deploy/README.md says how to remove them)."""
        named = set(self.leftovers()["volumes"])  # the file's own: `-v`'s business
        for service in (*LONG_RUNNING, "topics", "migrate"):
            for container in self.containers(service, every=True):
                mounts = self.inspect(container)["Mounts"]
                assert isinstance(mounts, list)
                volumes = {m["Name"] for m in mounts if m["Type"] == "volume"}
                self.anonymous |= volumes - named
        self.compose("down", "--remove-orphans", *args)  # and replicas added by --scale

    def healthy(self, container: str) -> bool:
        """Run the container's health check now (no systemd timer runs it here); one without a
        health check (HAProxy's) is healthy while it runs."""
        checked = subprocess.run(
            ["podman", "healthcheck", "run", container], env=self.env, capture_output=True
        )
        if b"no defined healthcheck" in checked.stderr:
            state = self.inspect(container)["State"]
            return isinstance(state, dict) and state["Running"] is True
        return checked.returncode == 0

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of the project still on the machine."""
        label = f"label=io.podman.compose.project={PROJECT}"
        kinds = {
            "containers": ["ps", "-a", "--format", "{{.Names}}", "--filter", label],
            "volumes": ["volume", "ls", "--format", "{{.Name}}", "--filter", label],
            "networks": ["network", "ls", "--format", "{{.Name}}", "--filter", label],
        }
        return {kind: self.podman(*args).split() for kind, args in kinds.items()}

    def _run(self, command: list[str], timeout: float) -> str:
        done = subprocess.run(
            command, cwd=COMPOSE_DIR, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-3000:]}"
            )
        return done.stdout
