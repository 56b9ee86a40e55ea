"""`headwater up`: the whole pipeline on one machine, in the foreground, until Ctrl-C.

Starts the local infrastructure the settings call for, then the sink, the processors, the
workflow engine and the gateway as child processes (each is also a command of its own, for
multi-process deployments), prints where to send events, and on Ctrl-C or SIGTERM stops
everything it started in reverse order: gateway first, so no request is accepted that could not
be processed. Only the gateway and the sink have a readiness endpoint to wait for; the workers
(processors, engine) are watched for exiting.
"""

import asyncio
import functools
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

from gateway.settings import GatewaySettings
from headwater.errors import ComponentFailed
from headwater.keys import DevCredentials, ensure_dev_project
from headwater.stack import Stack
from headwater.stack.process import log_tail
from runtime.kafka import ensure_topics
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from sinks.settings import SinkSettings

__all__ = ["run_pipeline"]

COMPONENTS = ("sink", "process", "engine", "gateway")  # start order; stopped in reverse
LOCAL_RECEIVERS = "127.0.0.1,::1,localhost"
_READY_TIMEOUT_S = 90.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def failure(self) -> ComponentFailed:
        return ComponentFailed(
            f"`headwater {self.name}` exited with code {self.process.returncode}; "
            f"last lines of {self.log}:\n{log_tail(self.log)}"
        )


def run_pipeline(
    settings: HeadwaterSettings,
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    gateway: GatewaySettings,
    sink: SinkSettings,
) -> None:
    stop = _stop_on_signals()
    stack = Stack(settings, kafka, clickhouse)
    started_at = time.monotonic()
    print("Starting the local stack (the first run downloads the Kafka jars)...", flush=True)
    started = stack.up()
    children: list[Child] = []
    try:
        asyncio.run(ensure_topics(kafka))
        credentials, created = ensure_dev_project(settings)
        # A development stack sends webhooks to local receivers (`headwater webhooks receive`);
        # deployments allow-list private targets themselves (HEADWATER_ENGINE_WEBHOOK_ALLOW).
        os.environ.setdefault("HEADWATER_ENGINE_WEBHOOK_ALLOW", LOCAL_RECEIVERS)
        for name in COMPONENTS:
            if stop.is_set():  # Ctrl-C while the stack was starting
                return
            children.append(_spawn(name, settings.data_dir / "logs"))
        _wait_ready(children, [gateway.local_url, _url(sink.host, sink.port)], stop)
        if not stop.is_set():
            banner = _banner(
                gateway,
                kafka,
                clickhouse,
                credentials,
                created,
                started_at,
                settings.credentials_file,
            )
            print(banner, flush=True)
            _wait_until_stopped(children, stop)
    finally:
        print("Stopping...", flush=True)
        for child in reversed(children):
            _terminate(child.process)
        stack.down(started)
        print("Stopped.", flush=True)


def _command() -> str:
    """How this `headwater` was invoked (e.g. `.venv/bin/headwater`), for copy-paste hints."""
    return sys.argv[0] if sys.argv[0].endswith("headwater") else "headwater"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _spawn(name: str, log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "headwater", name],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches `up` only; `up` stops the children in order
        )
    return Child(name, process, log)


def _url(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"


def _wait_ready(children: list[Child], urls: list[str], stop: threading.Event) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    pending = list(urls)
    while pending and not stop.is_set():
        _raise_if_exited(children)
        if time.monotonic() > deadline:
            raise ComponentFailed(f"not ready after {_READY_TIMEOUT_S:.0f}s: {', '.join(pending)}")
        pending = [url for url in pending if not _ready(url)]
        time.sleep(0.2)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1, context=_unverified()) as response:
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


@functools.cache
def _unverified() -> ssl.SSLContext:
    """For the readiness of our own child on this machine: its certificate (with https) is the
    operator's and may be self-signed or name the public host, so this loopback check does not
    verify it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _wait_until_stopped(children: list[Child], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        _raise_if_exited(children)


def _raise_if_exited(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is not None:
            raise child.failure()


def _terminate(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _banner(
    gateway: GatewaySettings,
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    credentials: DevCredentials | None,
    created: bool,
    started_at: float,
    credentials_file: Path,
) -> str:
    url = gateway.local_url
    store = "embedded (in the sink)" if clickhouse.embedded else clickhouse.server_url
    lines = [
        f"Headwater is up in {time.monotonic() - started_at:.1f}s.",
        f"  gateway     {url}   (Vemetric: POST {url}/e)",
        f"  kafka       {kafka.bootstrap_servers}",
        f"  clickhouse  {store}",
    ]
    if credentials is not None:
        lines += [
            f"Development project `{credentials.project_id}`"
            + (" (created now)" if created else "")
            + f", credentials also in {credentials_file}:",
            f"  Vemetric projectToken   {credentials.vemetric_token}",
            f"  Embeddables X-Api-Key   {credentials.embeddables_key}",
            f"  Usermaven token         {credentials.usermaven_token}",
            *(
                [
                    f"  Workflow API secret key {credentials.workflows_secret_key}",
                    f"Webhooks: {_command()} webhooks receive --port 9000 (a local receiver;"
                    " here the engine may send to 127.0.0.1)",
                ]
                if credentials.workflows_secret_key
                else []
            ),
            "Try:",
            f"  curl -X POST '{url}/e' -H 'Content-Type: application/json' -d "
            f'\'{{"projectToken": "{credentials.vemetric_token}", "name": "$pageview", '
            '"url": "https://example.com/blog/article", "identifier": "user_123"}\'',
            f'  {_command()} sql "SELECT name, url FROM events"',
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines) + "\n"
