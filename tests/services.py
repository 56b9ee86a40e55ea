"""The real services behind the integration tests, chosen by the environment.

- `KAFKA_BOOTSTRAP` / `CLICKHOUSE_URL` set: those running services are used, nothing is started.
- otherwise `HEADWATER_TEST_SERVICES=local` (default): the project's own stack runs a Kafka broker
  from Maven Central jars and a ClickHouse server from the chdb-core wheel; no Docker needed.
- `HEADWATER_TEST_SERVICES=docker`: testcontainers runs the official `apache/kafka` and
  `clickhouse/clickhouse-server` images (same versions), for machines with a Docker engine.
"""

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from headwater.stack import Stack
from headwater.stack.clickhouse import ping
from headwater.stack.kafka import KAFKA_VERSION
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from tests.helpers import eventually

__all__ = ["free_port", "running_services"]

CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:26.9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_services(data_dir: Path) -> Iterator[tuple[str, str]]:
    """(Kafka bootstrap servers, ClickHouse URL), up for the duration of the block."""
    kafka, clickhouse = os.environ.get("KAFKA_BOOTSTRAP"), os.environ.get("CLICKHOUSE_URL")
    mode = os.environ.get("HEADWATER_TEST_SERVICES", "local")
    if mode not in ("local", "docker"):
        raise ValueError(f"HEADWATER_TEST_SERVICES must be local or docker, not {mode!r}")
    with ExitStack() as stack:
        if mode == "docker":
            kafka = kafka or stack.enter_context(_docker_kafka())
            clickhouse = clickhouse or stack.enter_context(_docker_clickhouse())
        kafka, clickhouse = stack.enter_context(_local_stack(data_dir, kafka, clickhouse))
        assert ping(clickhouse), f"ClickHouse does not answer at {clickhouse}"
        yield kafka, clickhouse


@contextmanager
def _local_stack(
    data_dir: Path, kafka_bootstrap: str | None, clickhouse_url: str | None
) -> Iterator[tuple[str, str]]:
    """Starts locally whichever of the two services has no address yet."""
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, port=free_port(), controller_port=free_port())
    clickhouse = ClickHouseSettings(
        url=clickhouse_url, mode="server", http_port=free_port(), tcp_port=free_port()
    )
    stack = Stack(HeadwaterSettings(data_dir=data_dir), kafka, clickhouse)
    started = stack.up()
    try:
        yield kafka.bootstrap_servers, clickhouse.server_url
    finally:
        stack.down(started)


@contextmanager
def _docker_kafka() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = free_port()  # same port inside and out, so the advertised address is right
    environment = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{port},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }
    container = DockerContainer(f"apache/kafka:{KAFKA_VERSION}").with_bind_ports(port, port)
    for key, value in environment.items():
        container.with_env(key, value)
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        yield f"127.0.0.1:{port}"


@contextmanager
def _docker_clickhouse() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(CLICKHOUSE_IMAGE)
        .with_env("CLICKHOUSE_SKIP_USER_SETUP", "1")  # the passwordless default user, as chdb
        .with_exposed_ports(8123)
    )
    with container:
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8123)}"
        eventually(lambda: ping(url), timeout=120, what=f"ClickHouse at {url}")
        yield url
