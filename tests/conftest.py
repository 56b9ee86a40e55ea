"""One real Kafka broker and one real ClickHouse HTTP server for the whole test session.

Which ones, and how they are started, is `tests/services.py`'s business. A service that cannot
be reached fails the tests that need it: nothing is skipped.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import free_port, running_services

__all__ = ["FIXTURES", "ROOT", "free_port"]

ROOT = Path(__file__).parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(Kafka bootstrap servers, ClickHouse URL), running for the whole session."""
    with running_services(tmp_path_factory.mktemp("stack")) as addresses:
        yield addresses


@pytest.fixture(scope="session")
def kafka_bootstrap(services: tuple[str, str]) -> str:
    return services[0]


@pytest.fixture(scope="session")
def clickhouse_url(services: tuple[str, str]) -> str:
    return services[1]
