"""The ClickHouse sink: columnar inserts of processed events into the `events` table.

The same code runs against a ClickHouse server over HTTP and against the embedded engine
(clickhouse-connect's `interface="chdb"`). Both clients are synchronous, and the embedded one must
not be used from two threads at once, so every call goes through one worker thread.
"""

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import clickhouse_connect
import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from headwater.settings import ClickHouseSettings
from schemas.event import Event
from sinks.base import Batch, BatchingSink
from sinks.errors import SinkWriteFailed

__all__ = ["COLUMNS", "ClickHouseSink", "connect", "pretty_query"]

T = TypeVar("T")

COLUMNS = (
    "event_id", "project_id", "source_format", "name", "event_time", "received_at",
    "is_historical", "idempotency_key", "source_event_id", "user_id", "anonymous_id",
    "identifier_key", "identifier_value", "url", "context", "properties", "metrics",
    "dimensions", "user_data", "schema_version",
)  # fmt: skip

_HAS_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$", re.IGNORECASE)


def connect(settings: ClickHouseSettings, data_dir: Path) -> Client:
    """A client for the configured ClickHouse: the embedded engine or a server over HTTP."""
    if settings.embedded:
        path = data_dir.resolve() / "clickhouse"
        path.mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(interface="chdb", path=str(path))
    return clickhouse_connect.get_client(
        dsn=settings.server_url,
        username=settings.username,
        password=settings.password.get_secret_value(),
        database=settings.database,
    )


def pretty_query(client: Client, sql: str) -> str:
    """Run SQL and render it as ClickHouse's own readable table (unless it names a FORMAT)."""
    if _HAS_FORMAT.search(sql):
        return client.raw_query(sql).decode()
    return client.raw_query(sql, fmt="PrettyCompactMonoBlock").decode()


def migrate(client: Client) -> None:
    """Apply the SQL migrations in order; each is idempotent (`IF NOT EXISTS`)."""
    migrations = sorted(
        (p for p in files("sinks").joinpath("migrations").iterdir() if p.name.endswith(".sql")),
        key=lambda p: p.name,
    )
    for migration in migrations:
        client.command(migration.read_text())


def _insert(client: Client, events: list[Event]) -> None:
    client.insert("events", to_columns(events), column_names=COLUMNS, column_oriented=True)


def to_columns(events: list[Event]) -> list[list[Any]]:
    """Column-oriented insert data, in `COLUMNS` order; nested JSON kept as text."""
    return [_column(events, name) for name in COLUMNS]


def _column(events: list[Event], name: str) -> list[Any]:
    if name == "properties":
        return [orjson.dumps(e.properties).decode() for e in events]
    if name == "user_data":
        return [orjson.dumps(e.user_data.model_dump()).decode() for e in events]
    return [getattr(e, name) for e in events]


class ClickHouseSink(BatchingSink):
    """Writes each partition's batch as one columnar insert."""

    def __init__(
        self, settings: ClickHouseSettings, data_dir: Path, max_rows: int, max_age_s: float
    ) -> None:
        super().__init__(max_rows, max_age_s)
        self._settings = settings
        self._data_dir = data_dir
        self._thread: ThreadPoolExecutor | None = None
        self._client: Client | None = None

    async def setup(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client = await self._call(connect, self._settings, self._data_dir)
        await self._call(migrate, self._client)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await self._call(client.close)
        if self._thread is not None:
            thread, self._thread = self._thread, None
            thread.shutdown(wait=True)

    async def write(self, batch: Batch) -> None:
        try:
            await self._call(_insert, self._require_client(), batch.events)
        except (ClickHouseError, OSError) as exc:
            raise SinkWriteFailed(
                f"insert of {len(batch.events)} rows from {batch.topic}[{batch.partition}] "
                f"offsets {batch.first_offset}-{batch.last_offset} failed: {exc}"
            ) from exc

    async def pretty_query(self, sql: str) -> str:
        return await self._call(pretty_query, self._require_client(), sql)

    async def ping(self) -> bool:
        return await self._call(self._require_client().ping)

    def _require_client(self) -> Client:
        if self._client is None:
            raise SinkWriteFailed("the ClickHouse sink is not set up")
        return self._client

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the one ClickHouse thread, off the event loop."""
        if self._thread is None:
            raise SinkWriteFailed("the ClickHouse sink is not set up")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
