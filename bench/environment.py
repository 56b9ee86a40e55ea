"""Where every benchmark runs: a broker (and, when asked, a ClickHouse server) with Headwater's
topics, a development project in a temporary data folder, and the component processes, each
living for one measurement.

A benchmark starts its own services on free ports, or uses the ones `KAFKA_BOOTSTRAP` and
`CLICKHOUSE_URL` name. On a ClickHouse of its own or not, it writes into a database of its own
(`bench_<id>`, dropped at the end), so a shared server's tables are never touched.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from headwater.keys import DevCredentials, ensure_dev_project
from headwater.stack import Stack
from headwater.stack.process import stop_child
from runtime.kafka import ensure_topics
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings

__all__ = [
    "REPO_ROOT",
    "BenchEnvironment",
    "bench_environment",
    "component_argv",
    "free_port",
    "progress",
    "quick_mode",
    "running",
    "serving",
    "stop_on_sigterm",
    "wait_ready",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: the working folder of `python -m bench...` child processes."""


@dataclass(frozen=True)
class BenchEnvironment:
    """A running broker with Headwater's topics, and a data folder holding the dev project."""

    data_dir: Path
    credentials: DevCredentials
    env: dict[str, str]
    """The environment for a component process: this data folder, this broker, this ClickHouse."""
    clickhouse_url: str | None = None
    """The ClickHouse server's HTTP URL, when the benchmark asked for one."""
    clickhouse_database: str = "default"
    """The database the components write into (`HEADWATER_CLICKHOUSE_DATABASE`)."""
    service_pids: dict[str, int] = field(default_factory=dict)
    """The local services this environment runs (e.g. `kafka`, `clickhouse`), by name."""

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP"]

    def clickhouse(self) -> Client:
        """A client of the benchmark's own database."""
        if self.clickhouse_url is None:
            raise SystemExit(
                "this benchmark asked for no ClickHouse: bench_environment(clickhouse=True)"
            )
        return clickhouse_connect.get_client(
            dsn=self.clickhouse_url, database=self.clickhouse_database
        )


def progress(message: str) -> None:
    """A progress line on stderr, so stdout keeps only the results tables."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def quick_mode() -> bool:
    """`BENCH_QUICK=1`: each benchmark runs briefly, to check its wiring, not to measure."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def component_argv(command: str) -> list[str]:
    """A Headwater component as users start it (`headwater <command>`), from this interpreter."""
    return [sys.executable, "-m", "headwater", command]


@contextmanager
def running_component(
    command: str, env: dict[str, str], log: Path, stop_timeout_s: float
) -> Iterator[subprocess.Popen[bytes]]:
    """`headwater <command>` until the block ends, its output appended to `log`: SIGTERM (a
    faust worker's clean shutdown, offsets and RocksDB flushed), SIGKILL if it has not exited
    after `stop_timeout_s`."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            component_argv(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the benchmark reaches it only through us
        )
        try:
            yield process
        finally:
            stop_child(process, stop_timeout_s)


def wait_ready(
    url: str,
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.2,
) -> None:
    """Wait until `url` answers 200, asking every `interval` seconds; fail at once if `process`
    (the server) exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(interval)
    raise SystemExit(f"not ready: {url}")


@contextmanager
def bench_environment(
    *, clickhouse: bool = False, tools: tuple[str, ...] = ()
) -> Iterator[BenchEnvironment]:
    """Start a local broker (or use `KAFKA_BOOTSTRAP`), with `clickhouse` a local ClickHouse
    server too (or use `CLICKHOUSE_URL`), and a fresh data folder; stop and remove them all when
    the block ends. The command-line `tools` must be installed."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install {tool}")
    work = Path(tempfile.mkdtemp(prefix="headwater-bench-"))
    try:
        settings = HeadwaterSettings(data_dir=work)
        kafka = KafkaSettings(
            bootstrap=os.environ.get("KAFKA_BOOTSTRAP"),
            port=free_port(),
            controller_port=free_port(),
        )
        store = _clickhouse_settings() if clickhouse else ClickHouseSettings()
        stack = Stack(settings, kafka, store)
        progress(f"starting the stack (kafka at {kafka.bootstrap_servers})")
        started = stack.up()
        try:
            asyncio.run(ensure_topics(kafka))
            credentials, _ = ensure_dev_project(settings)
            if credentials is None:
                raise SystemExit(f"no development credentials in {work}")
            env = {
                **os.environ,
                "HEADWATER_DATA_DIR": str(work),
                "KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
            }
            pids = {s.name: s.pid for s in stack.status() if s.pid is not None}
            if not clickhouse:
                yield BenchEnvironment(work, credentials, env, service_pids=pids)
                return
            with _own_database(store.server_url) as database:
                env |= {
                    "CLICKHOUSE_URL": store.server_url,
                    "HEADWATER_CLICKHOUSE_DATABASE": database,
                }
                yield BenchEnvironment(work, credentials, env, store.server_url, database, pids)
        finally:
            progress(f"stopping {', '.join(started) or 'nothing (external services)'}")
            stack.down(started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _clickhouse_settings() -> ClickHouseSettings:
    return ClickHouseSettings(
        url=os.environ.get("CLICKHOUSE_URL"),
        mode="server",
        http_port=free_port(),
        tcp_port=free_port(),
    )


@contextmanager
def _own_database(url: str) -> Iterator[str]:
    """A database of this run's own on the server at `url`, dropped when the block ends."""
    database = f"bench_{uuid.uuid4().hex[:8]}"
    clickhouse_connect.get_client(dsn=url).command(f"CREATE DATABASE {database}")
    try:
        yield database
    finally:
        try:
            clickhouse_connect.get_client(dsn=url).command(f"DROP DATABASE IF EXISTS {database}")
        except Exception as exc:  # the server is gone: its data folder goes with it
            progress(f"could not drop the database {database}: {exc}")


@contextmanager
def running(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process until the block ends (SIGTERM, then SIGKILL after 30 s)."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop_child(process)


@contextmanager
def serving(
    argv: list[str], env: dict[str, str], port: int, interval: float = 0.2
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; the block starts once its `/readyz` answers 200
    (asked every `interval` seconds)."""
    with running(argv, env) as server:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process=server, interval=interval)
        yield server


def stop_on_sigterm() -> None:
    """A SIGTERM unwinds like Ctrl-C (KeyboardInterrupt), so the components and services are
    stopped on the way out, and a run of every benchmark stops instead of going on to the next."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
