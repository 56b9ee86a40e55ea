"""Reaching ClickHouse: a server over HTTP or the embedded engine, and the threads that use it.

`connect` and `connect_to_migrate` are also what `headwater sql` and `headwater migrate` open; the
sink keeps its clients in a `ClientPool`, because both interfaces are synchronous: each client is
used by one call at a time, on a worker thread. A server gets several, so that one flush writes
its partitions' batches at once (each insert waits mostly on the server, which spreads them over
its own threads); the embedded engine gets one, as it must not be used from two threads at once.
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

__all__ = ["ClientPool", "connect", "connect_to_migrate", "require_engine", "shard_count"]

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


class ClientPool(Lifecycle):
    """Clients for migrations, writes and queries (the first from `connect_to_migrate`), each
    used by one call at a time, off the event loop: `size` for a server, one for the embedded
    engine."""

    def __init__(self, settings: ClickHouseSettings, data_dir: Path, size: int = 1) -> None:
        self._settings = settings
        self._data_dir = data_dir
        self._size = 1 if settings.embedded else size
        self._threads: ThreadPoolExecutor | None = None
        self._clients: list[Client] = []
        self._idle: asyncio.Queue[Client] | None = None

    async def start(self) -> None:
        self._threads = ThreadPoolExecutor(self._size, thread_name_prefix="clickhouse")
        self._clients.append(await self._run(connect_to_migrate, self._settings, self._data_dir))
        for _ in range(self._size - 1):
            self._clients.append(await self._run(connect, self._settings, self._data_dir))
        self._idle = asyncio.Queue()
        for client in self._clients:
            self._idle.put_nowait(client)

    async def stop(self) -> None:
        """Close the clients once no call uses them; then the threads. A call still waiting for
        a client is told the sink is stopped."""
        idle, self._idle = self._idle, None
        clients, self._clients = self._clients, []
        if idle is not None:
            for _ in clients:
                await idle.get()
        for client in clients:
            await self._run(client.close)
        if idle is not None:
            for client in clients:
                idle.put_nowait(client)
        if self._threads is not None:
            threads, self._threads = self._threads, None
            threads.shutdown(wait=True)

    async def call(
        self, fn: Callable[Concatenate[Client, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(client, *args, **kwargs)` with the next idle client, on a worker thread."""
        if self._idle is None:
            raise SinkWriteFailed("the ClickHouse sink is not started")
        idle = self._idle
        client = await idle.get()
        try:
            if self._idle is not idle:
                raise SinkWriteFailed("the ClickHouse sink is stopped")
            return await self._run(functools.partial(fn, client, *args, **kwargs))
        finally:
            idle.put_nowait(client)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._threads is None:
            raise SinkWriteFailed("the ClickHouse sink is not started")
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)
