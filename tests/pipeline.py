"""The whole pipeline, each component in its own process, on the session's broker and ClickHouse.

Started once per session (the `pipeline` fixture in tests/conftest.py) and shared by the pipeline
tests and the client tests: three processes and their consumer groups cost seconds to start, and
every test uses unique markers, so one instance serves them all.
"""

import signal
import subprocess
import uuid
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
ENGINE_GROUP = "test-pipeline-engine"
# The engine's webhook retries, short enough to watch: attempts 0.5, 1, 2 s apart (each times 0.5-1
# jitter), 1 s timeout, four attempts in all; the tests' receivers listen on 127.0.0.1.
ENGINE_SETTINGS = {
    "HEADWATER_ENGINE_APP_ID": ENGINE_GROUP,
    "HEADWATER_ENGINE_WEBHOOK_ALLOW": "127.0.0.1",
    "HEADWATER_ENGINE_WEBHOOK_TIMEOUT_S": "1",
    "HEADWATER_ENGINE_WEBHOOK_BACKOFF_BASE_S": "0.5",
    "HEADWATER_ENGINE_WEBHOOK_BACKOFF_CAP_S": "2",
    "HEADWATER_ENGINE_WEBHOOK_MAX_ATTEMPTS": "4",
    "HEADWATER_ENGINE_SIGNING_KEY": "test-signing-key",
    "HEADWATER_ENGINE_METRICS_PORT": "0",
}


class Pipeline(NamedTuple):
    gateway: str
    sink: str
    processors: str
    token: str  # the dev project's Vemetric token
    credentials: DevCredentials  # all of the dev project's keys
    env: dict[str, str]  # the components' environment, to start another gateway beside them
    data_dir: Path  # projects file, credentials and the components' logs
    processes: dict[str, subprocess.Popen[bytes]]  # by command: workers may be restarted

    def kill(self, command: str) -> None:
        """SIGKILL a worker (`process`, `engine`): no shutdown, no commit, like a crash."""
        worker = self.processes[command]
        worker.kill()
        worker.wait(timeout=30)

    def start(self, command: str) -> None:
        """Start a worker again, as its supervisor would, on the same state folder."""
        log = self.data_dir / f"{command}-{uuid.uuid4().hex[:6]}.log"
        self.processes[command] = headwater(command, env=self.env, log=log)


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
    for topic in (topics.WORKFLOW_COMMANDS, topics.WORKFLOW_SIGNALS):
        start_group_at_end(kafka, ENGINE_GROUP, topic)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("sink", "process", "engine", "gateway"):
            processes[name] = headwater(name, env=env, log=data_dir / f"{name}.log")
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for url in (urls["sink"], urls["gateway"]):
            eventually(partial(http_ok, f"{url}/readyz"), timeout=60, what=url)
        yield Pipeline(
            urls["gateway"], urls["sink"], urls["processors"], credentials.vemetric_token,
            credentials, env, data_dir, processes,
        )  # fmt: skip
    finally:
        codes = {name: stop(p) for name, p in reversed(processes.items())}
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
            **ENGINE_SETTINGS,
        }
    )
