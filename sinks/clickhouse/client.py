"""Reaching ClickHouse: a server over HTTP or the embedded engine, and the one thread that uses it.

`connect` and `connect_to_migrate` are also what `headwater sql` and `headwater migrate` open; the
sink keeps its client in a `ClientThread`, because both interfaces are synchronous and the embedded
one must not be used from two threads at once.
"""

import asyncio
import functools
import importlib.util
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from runtime.errors import MissingPrerequisite
from runtime.settings import ClickHouseSettings
from runtime.tasks import Lifecycle
from sinks.errors import SinkWriteFailed

__all__ = ["ClientThread", "connect", "connect_to_migrate", "require_engine", "shard_count"]

P = ParamSpec("P")
T = TypeVar("T")


def require_engine() -> None:
    """The local ClickHouse (embedded or server) needs the optional `chdb` engine package."""
    if importlib.util.find_spec("chdb") is None:
        raise MissingPrerequisite(
            "the local ClickHouse needs the engine: pip install 'headwater[embedded]', "
            "or set CLICKHOUSE_URL to a ClickHouse server"
        )


def connect(settings: ClickHouseSettings, data_dir: Path) -> Client:
    """A client for the configured ClickHouse: the embedded engine or a server over HTTP."""
    if settings.embedded:
        require_engine()
        path = data_dir.resolve() / "clickhouse"
        path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(interface="chdb", path=str(path))
    return _server_client(settings, settings.database)


def connect_to_migrate(settings: ClickHouseSettings, data_dir: Path) -> Client:
    """`connect`, after creating the database on every node of a cluster: migrations put the
    tables there, and a client cannot connect to a database that does not exist."""
    if settings.cluster:
        with _server_client(settings, "default") as client:
            client.command(
                f"CREATE DATABASE IF NOT EXISTS `{settings.database}` "
                f"ON CLUSTER '{settings.cluster}'"
            )
    return connect(settings, data_dir)


def _server_client(settings: ClickHouseSettings, database: str) -> Client:
    return clickhouse_connect.get_client(
        dsn=settings.server_url,
        username=settings.username,
        password=settings.password.get_secret_value(),
        database=database,
    )


def shard_count(client: Client, cluster: str) -> int:
    """How many shards `cluster` has, as the server connected to defines it."""
    shards = client.query(
        "SELECT max(shard_num) FROM system.clusters WHERE cluster = {cluster:String}",
        parameters={"cluster": cluster},
    ).result_rows[0][0]
    if not shards:
        raise SinkWriteFailed(f"ClickHouse defines no cluster named {cluster!r}")
    return int(shards)


class ClientThread(Lifecycle):
    """A client for migrations and writes (`connect_to_migrate`), used from one worker thread
    only, off the event loop."""

    def __init__(self, settings: ClickHouseSettings, data_dir: Path) -> None:
        self._settings = settings
        self._data_dir = data_dir
        self._thread: ThreadPoolExecutor | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client = await self._run(connect_to_migrate, self._settings, self._data_dir)

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await self._run(client.close)
        if self._thread is not None:
            thread, self._thread = self._thread, None
            thread.shutdown(wait=True)

    async def call(
        self, fn: Callable[Concatenate[Client, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(client, *args, **kwargs)` on the client's thread."""
        if self._client is None:
            raise SinkWriteFailed("the ClickHouse sink is not started")
        return await self._run(functools.partial(fn, self._client, *args, **kwargs))

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._thread is None:
            raise SinkWriteFailed("the ClickHouse sink is not started")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
