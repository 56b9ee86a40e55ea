"""The whole pipeline, each component in its own process, on the session's broker and ClickHouse.

Started once per session (the `pipeline` fixture in tests/conftest.py) and shared by the pipeline
tests and the client tests: three processes and their consumer groups cost seconds to start, and
every test uses unique markers, so one instance serves them all.
"""

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import NamedTuple

from headwater.keys import DevCredentials, ensure_dev_project
from runtime.settings import HeadwaterSettings
from schemas import topics
from tests.helpers import environment, eventually, headwater, http_ok, start_group_at_end, stop
from tests.services import free_port

__all__ = ["CLEAN_EXITS", "Pipeline", "running_pipeline"]

# uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
CLEAN_EXITS = {0, -signal.SIGTERM}

PROCESSORS_GROUP = "test-pipeline-processors"
SINK_GROUP = "test-pipeline-sink"


class Pipeline(NamedTuple):
    gateway: str
    sink: str
    processors: str
    token: str  # the dev project's Vemetric token
    credentials: DevCredentials  # all of the dev project's keys
    env: dict[str, str]  # the components' environment, to start another gateway beside them
    data_dir: Path  # projects file, credentials and the components' logs


@contextmanager
def running_pipeline(kafka: str, clickhouse: str, data_dir: Path) -> Iterator[Pipeline]:
    """Gateway, processors and sink running with a development project; stopped cleanly after."""
    credentials, _ = ensure_dev_project(HeadwaterSettings(data_dir=data_dir))
    assert credentials is not None
    ports = {"gateway": free_port(), "sink": free_port(), "processors": free_port()}
    env = _environment(kafka, clickhouse, data_dir, ports)
    # Fresh groups start at the end of the shared topics: other tests' events are not ours.
    start_group_at_end(kafka, PROCESSORS_GROUP, topics.RAW)
    start_group_at_end(kafka, SINK_GROUP, topics.EVENTS)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("sink", "process", "gateway"):
            processes.append(headwater(name, env=env, log=data_dir / f"{name}.log"))
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for url in (urls["sink"], urls["gateway"]):
            eventually(partial(http_ok, f"{url}/readyz"), timeout=60, what=url)
        yield Pipeline(
            urls["gateway"], urls["sink"], urls["processors"], credentials.vemetric_token,
            credentials, env, data_dir,
        )  # fmt: skip
    finally:
        codes = {p.args[-1]: stop(p) for p in reversed(processes)}  # type: ignore[index]
        assert set(codes.values()) <= CLEAN_EXITS, f"unclean exits {codes}; logs in {data_dir}"


def _environment(
    kafka: str, clickhouse: str, data_dir: Path, ports: dict[str, int]
) -> dict[str, str]:
    return environment(
        {
            "HEADWATER_DATA_DIR": str(data_dir),
            "KAFKA_BOOTSTRAP": kafka,
            "CLICKHOUSE_URL": clickhouse,
            "HEADWATER_GATEWAY_PORT": str(ports["gateway"]),
            "HEADWATER_SINK_PORT": str(ports["sink"]),
            "HEADWATER_SINK_GROUP_ID": SINK_GROUP,
            "HEADWATER_SINK_BATCH_MAX_AGE_MS": "200",
            "HEADWATER_PROCESSORS_APP_ID": PROCESSORS_GROUP,
            "HEADWATER_PROCESSORS_METRICS_PORT": str(ports["processors"]),
        }
    )
