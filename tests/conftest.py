"""One real Kafka broker and one real ClickHouse HTTP server for the whole test session, and one
pipeline (gateway, processors, sink) on them for the tests that follow events into ClickHouse.

Which services, and how they are started, is `tests/services.py`'s business; the pipeline is
`tests/pipeline.py`'s. A service that cannot be reached fails the tests that need it: nothing is
skipped.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline import Pipeline, running_pipeline
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


@pytest.fixture(scope="session")
def pipeline(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """The three components running, with a development project, for the whole session."""
    data_dir = tmp_path_factory.mktemp("pipeline")
    with running_pipeline(kafka_bootstrap, clickhouse_url, data_dir) as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the shared pipeline run last. Its processors and sink consume the shared topics
    for as long as they run, so starting them early would let them also write what other tests
    produce for their own consumers (the sink tests count the rows of their project)."""
    items.sort(key=lambda item: "pipeline" in getattr(item, "fixturenames", ()))
