"""The whole path an event takes to a webhook, each part started as users start it: a gateway
(one worker), a processors worker, an engine worker and the receiver we ship (`headwater webhooks
receive --project dev`), on the benchmark's broker; and two live workflows of the dev project
published through the gateway's API on the same event: Start -> Webhook, and Start -> Delay(2 s)
-> Webhook. Each webhook's params carry the event's `sent` and `n` and which workflow sent it.
"""

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.engine.worker import SIGNING_KEY, EngineSetup, engine_setup, running_engine
from bench.environment import (
    BenchEnvironment,
    component_argv,
    free_port,
    progress,
    running,
    serving,
    wait_ready,
)
from bench.processors.worker import running_worker, worker_setup
from bench.workflows import Api
from headwater.keys import DEV_PROJECT_ID, create_key
from runtime.settings import HeadwaterSettings
from schemas import topics
from tests.kafka import commit_group_at_end

__all__ = ["DELAY_S", "EVENT", "Pipeline", "pipeline", "template"]

EVENT = "bench_signup"
DELAY_S = 2
PARAMS = "sent: {{ event.properties.sent }}\nn: {{ event.properties.n }}\nflow: "


@dataclass(frozen=True)
class Pipeline:
    gateway_port: int
    receiver_url: str
    pids: dict[str, int]
    """The running parts by name: gateway, processors, engine, receiver (and the broker, when
    ours)."""
    engine: EngineSetup


def template(url: str, delay_s: int) -> dict[str, Any]:
    """Start -> (Delay) -> Webhook to `url`, its params naming the workflow (`now`, `delayed`)."""
    flow = "delayed" if delay_s else "now"
    hook = {"id": "hook", "type": "Webhook", "url": url, "params": PARAMS + flow}
    if not delay_s:
        return {"nodes": [{"id": "start", "type": "Start"}, hook], "edges": ["start-hook"]}
    delay = {"id": "wait", "type": "Delay", "delay_n": delay_s, "delay_unit": "sec"}
    nodes = [{"id": "start", "type": "Start"}, delay, hook]
    return {"nodes": nodes, "edges": ["start-wait", "wait-hook"]}


def _publish(api: Api, url: str) -> None:
    """Both workflows, created and published with the live secret key."""
    for delay_s in (0, DELAY_S):
        body = {"name": f"bench {delay_s} s", "event_trigger": EVENT,
                "template": template(url, delay_s)}  # fmt: skip
        made = orjson.loads(api.ok("POST", "/workflows", body).body)
        api.ok("PUT", f"/workflows/{made['id']}", {"template_status": "published"})


def _live_secret_key(data_dir: Path) -> str:
    """A live workflow key of the dev project (the dev project has test keys only)."""
    projects = HeadwaterSettings(data_dir=data_dir).projects_path
    _, _, _, secret_key = create_key(projects, DEV_PROJECT_ID, "workflows").splitlines()
    return secret_key


def _receiver(env: dict[str, str], stack: ExitStack) -> tuple[int, str]:
    """`headwater webhooks receive --project dev` on a free port: its pid and URL, once it
    answers. It verifies with the key the engine signs with."""
    port = free_port()
    argv = [*component_argv("webhooks"), "receive", "--project", DEV_PROJECT_ID]
    env = env | {"HEADWATER_ENGINE_SIGNING_KEY": SIGNING_KEY}
    receiver = stack.enter_context(running([*argv, "--port", str(port)], env))
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/deliveries", process=receiver)
    return receiver.pid, url


@asynccontextmanager
async def pipeline(bench: BenchEnvironment, root: Path) -> AsyncIterator[Pipeline]:
    """Every part running and both workflows published, until the block ends; each worker reads
    only what is produced from now on."""
    engine = engine_setup(bench.env, root, "pipeline")
    processors = worker_setup(bench.env, root, "engine-pipeline")
    await _fresh_groups(bench.bootstrap, engine.app_id, processors.app_id)
    secret_key = _live_secret_key(bench.data_dir)
    with ExitStack() as stack:
        pids = dict(bench.service_pids)
        pids["receiver"], receiver_url = _receiver(bench.env, stack)
        pids["engine"] = stack.enter_context(running_engine(engine)).pid
        pids["processors"] = stack.enter_context(running_worker(processors)).pid
        port = free_port()
        env = bench.env | {"HEADWATER_GATEWAY_PORT": str(port), "HEADWATER_GATEWAY_WORKERS": "1"}
        pids["gateway"] = stack.enter_context(serving(component_argv("gateway"), env, port)).pid
        api = Api(port, secret_key)
        stack.callback(api.close)
        _publish(api, f"{receiver_url}/hook")
        progress(f"pipeline: running ({', '.join(f'{k} {v}' for k, v in pids.items())})")
        yield Pipeline(port, receiver_url, pids, engine)


async def _fresh_groups(bootstrap: str, engine: str, processors: str) -> None:
    """The workers' new consumer groups start at the end of their topics: only this case's
    records (the pending case's commands stay unread)."""
    await commit_group_at_end(bootstrap, engine, topics.WORKFLOW_COMMANDS, topics.WORKFLOW_SIGNALS)
    await commit_group_at_end(bootstrap, processors, topics.RAW)
