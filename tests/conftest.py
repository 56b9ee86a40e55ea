"""One real Kafka broker and one real ClickHouse HTTP server for the whole test session.

When KAFKA_BOOTSTRAP / CLICKHOUSE_URL are set, those services are used and nothing is started.
Otherwise the project's own stack starts them, on free ports, in a temporary data folder. A
service that cannot be reached fails the tests that need it: nothing is skipped.
"""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from headwater.stack import Stack
from headwater.stack.clickhouse import ping

ROOT = Path(__file__).parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(Kafka bootstrap servers, ClickHouse URL), running for the whole session."""
    settings = HeadwaterSettings(data_dir=tmp_path_factory.mktemp("stack"))
    kafka = KafkaSettings(
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP"),
        port=free_port(),
        controller_port=free_port(),
    )
    clickhouse = ClickHouseSettings(
        url=os.environ.get("CLICKHOUSE_URL"), mode="server", http_port=free_port()
    )
    stack = Stack(settings, kafka, clickhouse)
    started = stack.up()
    try:
        assert ping(clickhouse.server_url), f"ClickHouse does not answer at {clickhouse.server_url}"
        yield kafka.bootstrap_servers, clickhouse.server_url
    finally:
        stack.down(started)


@pytest.fixture(scope="session")
def kafka_bootstrap(services: tuple[str, str]) -> str:
    return services[0]


@pytest.fixture(scope="session")
def clickhouse_url(services: tuple[str, str]) -> str:
    return services[1]
