"""One real gateway process (`headwater gateway`) on the session's Kafka, with test projects."""

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from aiokafka import AIOKafkaConsumer

from gateway.projects import ProjectFile
from headwater.keys import create_key, save_projects
from schemas import topics
from schemas.event import Event, decode
from tests.conftest import free_port
from tests.helpers import environment, eventually, headwater, http_ok, read_topic_until, stop
from tests.kafka import topic_partitions

__all__ = [
    "RunningGateway",
    "embeddables_headers",
    "entry_body",
    "pageview",
    "read_event",
    "start_gateway",
    "topic_size",
    "unique",
]

RATE_LIMITED_PER_S = 2.0
SHOP_ORIGIN = "https://shop.example"  # the only origin project "shop" allows


@dataclass(frozen=True)
class RunningGateway:
    url: str
    data_dir: Path
    projects_file: Path
    vemetric_token: str  # project "acme"
    usermaven_token: str  # project "acme"
    embeddables_key: str  # project "acme"
    other_embeddables_key: str  # project "other"
    limited_token: str  # project "limited": vemetric, RATE_LIMITED_PER_S
    shop_token: str  # project "shop": vemetric, browser events only from SHOP_ORIGIN

    @property
    def usermaven_api_key(self) -> str:
        return self.usermaven_token.split(".", 1)[0]

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=10)


def _projects(projects_file: Path) -> dict[str, str]:
    keys = {
        "vemetric_token": create_key(projects_file, "acme", "vemetric"),
        "usermaven_token": create_key(projects_file, "acme", "usermaven"),
        "embeddables_key": create_key(projects_file, "acme", "embeddables"),
        "other_embeddables_key": create_key(projects_file, "other", "embeddables"),
        "limited_token": create_key(projects_file, "limited", "vemetric"),
        "shop_token": create_key(projects_file, "shop", "vemetric"),
    }
    changes: dict[str, dict[str, Any]] = {
        "limited": {"rate_limit_per_s": RATE_LIMITED_PER_S},
        "shop": {"allowed_origins": [SHOP_ORIGIN]},
    }
    projects = ProjectFile.model_validate_json(projects_file.read_bytes()).projects
    save_projects(projects_file, [p.model_copy(update=changes.get(p.id, {})) for p in projects])
    return keys


@pytest.fixture(scope="session")
def gateway(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("gateway")
    keys = _projects(data_dir / "projects.json")
    process, url = start_gateway(
        kafka_bootstrap,
        data_dir,
        "gateway",
        HEADWATER_GATEWAY_MAX_BODY_BYTES=str(256 * 1024),
        HEADWATER_GATEWAY_TRUSTED_PROXIES="127.0.0.1",  # the tests play the load balancer
        HEADWATER_LOG_LEVEL="INFO",
    )
    try:
        yield RunningGateway(url, data_dir, data_dir / "projects.json", **keys)
    finally:
        stop(process)


def start_gateway(
    kafka: str, data_dir: Path, name: str, **settings: str
) -> tuple[subprocess.Popen[bytes], str]:
    """A gateway process on `data_dir`'s projects, ready; `settings` are more environment
    variables."""
    port = free_port()
    env = environment(
        {
            "HEADWATER_DATA_DIR": str(data_dir),
            "KAFKA_BOOTSTRAP": kafka,
            "HEADWATER_GATEWAY_PORT": str(port),
            "HEADWATER_GATEWAY_PROJECTS_RELOAD_S": "0.2",
            **settings,
        }
    )
    process = headwater("gateway", env=env, log=data_dir / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: http_ok(f"{url}/readyz"), timeout=60, what=f"{name} ready")
    except BaseException:
        stop(process)
        raise
    return process, url


def topic_size(bootstrap: str, topic: str) -> int:
    """How many records `topic` holds: the sum of its partitions' end offsets."""

    async def size() -> int:
        partitions = await topic_partitions(bootstrap, topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            return sum((await consumer.end_offsets(partitions)).values())
        finally:
            await consumer.stop()

    return asyncio.run(size())


def read_event(kafka: str, marker: str, topic: str = topics.RAW) -> Event:
    """The first event on `topic` whose record holds `marker`."""
    record = read_topic_until(kafka, topic, lambda r: marker.encode() in (r.value or b""))
    return decode(record.value or b"")


def unique() -> str:
    return uuid.uuid4().hex


def pageview(token: str, user: str) -> dict[str, Any]:
    """A Vemetric pageview of `user` in the project of `token`."""
    return {
        "projectToken": token,
        "name": "$pageview",
        "url": "https://a.example/",
        "identifier": user,
    }


def embeddables_headers(key: str) -> dict[str, str]:
    return {"X-Api-Key": key, "Content-Type": "application/json"}


def entry_body(embeddable: str, email: str) -> dict[str, Any]:
    return {"embeddable_id": embeddable, "identifiers": [{"key": "email", "value": f'"{email}"'}]}
