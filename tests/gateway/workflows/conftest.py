"""Two real gateway processes on the session's Kafka, sharing one projects file with workflow
API keys: the Embed Workflow API's state is replicated through Kafka, so what one process writes
the other must see, and races between them must end the same on both."""

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from headwater.keys import create_key
from tests.gateway.conftest import start_gateway
from tests.helpers import stop

__all__ = ["WorkflowGateways"]


@dataclass(frozen=True)
class WorkflowGateways:
    urls: tuple[str, str]  # two processes, one state
    keys: dict[str, str]  # project "flows": pk_test, sk_test, pk_live, sk_live
    other_secret: str  # project "elsewhere": its sk_test
    data_dir: Path
    kafka: str

    def client(self, key: str = "sk_test", process: int = 0) -> httpx2.Client:
        """A client of one process, authenticated as the vendor's client library is."""
        token = self.keys.get(key, key)
        headers = {"Authorization": f"Bearer {token}"}
        return httpx2.Client(base_url=f"{self.urls[process]}/api/v1", headers=headers, timeout=15)


@pytest.fixture(scope="session")
def workflow_gateways(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkflowGateways]:
    data_dir = tmp_path_factory.mktemp("workflow-gateways")
    projects = data_dir / "projects.json"
    names = ("pk_test", "sk_test", "pk_live", "sk_live")
    keys = dict(zip(names, create_key(projects, "flows", "workflows").splitlines(), strict=True))
    other = create_key(projects, "elsewhere", "workflows").splitlines()[1]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for name in ("gateway-a", "gateway-b"):
            process, url = start_gateway(kafka_bootstrap, data_dir, name)
            processes.append(process)
            urls.append(url)
        yield WorkflowGateways((urls[0], urls[1]), keys, other, data_dir, kafka_bootstrap)
    finally:
        for process in processes:
            stop(process)
