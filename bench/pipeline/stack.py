"""The whole pipeline on the benchmark's broker and ClickHouse, started as `headwater up` starts
it: each of `headwater.up.COMPONENTS` in that order (sink, processors, engine, gateway) as
`python -m headwater <name>` with default settings, logs under the data folder's `logs/`; then,
as `up` does, the gateway's and the sink's `/readyz` waited for. What differs is only what keeps
a run to itself on a shared machine: free ports, and consumer groups and app ids of its own that
start at the end of their topics (bench/sinks/freshness.py's `pipeline_env`).
"""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from bench.environment import BenchEnvironment, free_port, progress, running_component, wait_ready
from bench.sinks.freshness import pipeline_env
from headwater.up import COMPONENTS, LOCAL_RECEIVERS
from schemas import topics
from tests.kafka import commit_group_at_end

__all__ = ["Pipeline", "running_pipeline"]

NAMES = {"process": "processors"}
"""A component's name in the figures, where it differs from its command's."""
READY_TIMEOUT_S = 90.0
"""As long as `headwater up` waits for its components' readiness."""
STOP_TIMEOUT_S = 60.0
"""A faust worker's clean shutdown (offsets committed, RocksDB flushed) before SIGKILL."""


@dataclass(frozen=True)
class Pipeline:
    """Where to send events, and which processes to read the CPU of."""

    gateway_port: int
    token: str
    """The development project's Vemetric `projectToken`."""
    pids: dict[str, int]
    """Every component and local service by name: gateway, processors, sink, engine, and the
    broker and ClickHouse when the benchmark started them."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"


def _env(bench: BenchEnvironment, ports: dict[str, int]) -> dict[str, str]:
    """The sink's, the processors' and the gateway's settings from the sink's freshness case,
    and an engine of this run's own (its app id is its consumer group), allowed to reach local
    receivers as `headwater up` allows it."""
    engine_app = f"bench-engine-{uuid.uuid4().hex[:8]}"
    commands, signals = topics.WORKFLOW_COMMANDS, topics.WORKFLOW_SIGNALS
    asyncio.run(commit_group_at_end(bench.bootstrap, engine_app, commands, signals))
    return pipeline_env(bench, ports) | {
        "HEADWATER_ENGINE_APP_ID": engine_app,
        "HEADWATER_ENGINE_METRICS_PORT": str(free_port()),
        "HEADWATER_ENGINE_WEBHOOK_ALLOW": LOCAL_RECEIVERS,
    }


@contextmanager
def running_pipeline(bench: BenchEnvironment) -> Iterator[Pipeline]:
    """Every component running and ready until the block ends; then stopped in reverse order,
    the gateway first, as `headwater up` stops them."""
    ports = {name: free_port() for name in ("gateway", "sink", "processors")}
    env = _env(bench, ports)
    logs = bench.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    with ExitStack() as stack:
        processes = {
            NAMES.get(command, command): stack.enter_context(
                running_component(command, env, logs / f"{command}.log", STOP_TIMEOUT_S)
            )
            for command in COMPONENTS
        }
        for name in ("gateway", "sink"):
            url = f"http://127.0.0.1:{ports[name]}/readyz"
            wait_ready(url, READY_TIMEOUT_S, process=processes[name])
        pids = bench.service_pids | {name: process.pid for name, process in processes.items()}
        progress(f"pipeline: running ({', '.join(f'{k} {v}' for k, v in pids.items())})")
        yield Pipeline(ports["gateway"], bench.credentials.vemetric_token, pids)
