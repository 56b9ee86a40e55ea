"""The ClickHouse sink: batched inserts of events, people, entries and bot counts.

Events go in as JSON lines that ClickHouse parses itself; the smaller tables as columnar rows.
Every insert carries a deduplication token naming its offset range. The same code runs against a
ClickHouse server over HTTP and against the embedded engine (clickhouse-connect's
`interface="chdb"`). Both clients are synchronous, and the embedded one must not be used from two
threads at once, so every call goes through one worker thread.
"""

import asyncio
import importlib.util
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import clickhouse_connect
import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from runtime.errors import MissingPrerequisite
from runtime.settings import ClickHouseSettings
from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, decode
from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.errors import SinkWriteFailed
from sinks.migrate import migrate

__all__ = [
    "ClickHouseSink",
    "EntryChange",
    "connect",
    "connect_to_migrate",
    "pretty_query",
    "require_engine",
    "shard_count",
]

T = TypeVar("T")

BOT_COLUMNS = ("project_id", "day", "source_format", "user_agent", "events")
ENTRY_COLUMNS = (
    "project_id", "embeddable_id", "identifier_key", "identifier_value", "entry_id",
    "updated_at", "deleted", "version",
)  # fmt: skip

_HAS_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$", re.IGNORECASE)
# Server error codes that mean "this data cannot go in", not "ClickHouse is unwell": type
# mismatches, unparsable or out-of-range values, violated constraints.
_DATA_ERROR_CODES = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 321, 469})
_ERROR_CODE = re.compile(r"Code: (\d+)")


@dataclass(frozen=True)
class EntryChange:
    """A record of the entries topic: the entry, or its deletion (a tombstone)."""

    key: tuple[str, str, str, str]  # project, embeddable, identifier key, identifier value
    entry: Entry | None
    offset: int
    written_at: datetime

    @classmethod
    def decode(cls, key: bytes | None, value: bytes | None, offset: int = 0) -> "EntryChange":
        parts = orjson.loads(key or b"null")
        if not (
            isinstance(parts, list) and len(parts) == 4 and all(isinstance(p, str) for p in parts)
        ):
            raise ValueError("an entries key is a JSON array of four strings")
        entry = Entry.model_validate_json(value) if value is not None else None
        return cls(tuple(parts), entry, offset, datetime.now(UTC))  # type: ignore[arg-type]


def require_engine() -> None:
    """The local ClickHouse (embedded or server) needs the optional `chdb` engine package."""
    if importlib.util.find_spec("chdb") is None:
        raise MissingPrerequisite(
            "the local ClickHouse needs the engine: pip install 'headwater[embedded]', "
            "or set CLICKHOUSE_URL to a ClickHouse server"
        )


def _refuses_data(exc: BaseException) -> bool:
    """True when ClickHouse (or the driver, serialising a column) refused the data itself."""
    if isinstance(exc, OperationalError):
        return False
    if isinstance(exc, DatabaseError):
        match = _ERROR_CODE.search(str(exc))
        return match is not None and int(match[1]) in _DATA_ERROR_CODES
    return isinstance(exc, ValueError | TypeError | OverflowError)


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:500] if str(exc) else repr(exc)


def _dedup_settings(token: str) -> dict[str, Any]:
    """Each batch is one synchronous insert whose token makes its retry a no-op, views included.
    ClickHouse 26.x turns `async_insert` on by default: the server would then merge our batches
    with other inserts in its own buffer, where a token no longer names one block."""
    return {
        "insert_deduplication_token": token,
        "insert_deduplicate": 1,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "async_insert": 0,
    }


def _insert(
    client: Client,
    table: str,
    columns: tuple[str, ...],
    rows: list[list[Any]],
    settings: dict[str, Any],
) -> None:
    client.insert(table, rows, column_names=columns, settings=settings)


def _insert_json(client: Client, table: str, block: bytes, settings: dict[str, Any]) -> None:
    """Rows as JSON lines, parsed by ClickHouse: fields by name, unknown ones skipped, omitted
    ones from the column defaults (`person_id`)."""
    settings = settings | {
        "input_format_skip_unknown_fields": 1,
        "input_format_defaults_for_omitted_fields": 1,
        "date_time_input_format": "best_effort",
    }
    client.raw_insert(table, insert_block=block, fmt="JSONEachRow", settings=settings)


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


def pretty_query(client: Client, sql: str) -> str:
    """Run SQL and render it as ClickHouse's own readable table (unless it names a FORMAT)."""
    if _HAS_FORMAT.search(sql):
        return client.raw_query(sql).decode()
    return client.raw_query(sql, fmt="PrettyCompactMonoBlock").decode()


def _json_line(value: bytes | None) -> bytes:
    """The record as one JSON line for ClickHouse, which checks it (constraints on `events`)."""
    if not value:
        raise ValueError("an empty record is not an event")
    return value if b"\n" not in value else orjson.dumps(orjson.loads(value))


def bot_rows(events: list[Event]) -> list[list[Any]]:
    counts = Counter(
        (e.project_id, e.event_time.date(), e.source_format, e.context.get("user_agent", ""))
        for e in events
    )
    return [[*key, n] for key, n in counts.items()]


def entry_rows(changes: list[EntryChange]) -> list[list[Any]]:
    return [
        [*change.key, change.entry.entry_id if change.entry else "",
         change.entry.updated_at if change.entry else change.written_at,
         change.entry is None, change.offset]
        for change in changes
    ]  # fmt: skip


class ClickHouseSink(BatchingSink):
    """Writes each partition's batch as one columnar insert.

    On a cluster, each batch goes through the table's Distributed `_all` table to the one shard
    its Kafka partition maps to (`insert_shard_id`), synchronously: a retried batch then reaches
    the shard, and the deduplication log, that saw it first, and all events of one key (a person)
    share a shard. Changing the shard count remaps partitions: stop the sinks first."""

    def __init__(
        self, settings: ClickHouseSettings, data_dir: Path, max_rows: int, max_age_s: float
    ) -> None:
        super().__init__(max_rows, max_age_s)
        self._settings = settings
        self._data_dir = data_dir
        self._thread: ThreadPoolExecutor | None = None
        self._client: Client | None = None
        self._shards = 1

    async def setup(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client = await self._call(connect_to_migrate, self._settings, self._data_dir)
        await self._call(migrate, self._client, self._settings.cluster)
        if self._settings.cluster:
            self._shards = await self._call(shard_count, self._client, self._settings.cluster)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await self._call(client.close)
        if self._thread is not None:
            thread, self._thread = self._thread, None
            thread.shutdown(wait=True)

    def decode(self, topic: str, source: Source) -> Any:
        """The row a record becomes; raises ValidationError or ValueError for a bad record."""
        if topic == topics.ENTRIES:
            return EntryChange.decode(source.key, source.value, source.offset)
        if topic == topics.BOTS:
            return decode(source.value or b"")
        return _json_line(source.value)

    async def write(self, batch: Batch) -> list[RejectedRow]:
        try:
            if batch.topic == topics.ENTRIES:
                await self._insert("entries", ENTRY_COLUMNS, entry_rows(batch.rows), batch)
                return []
            if batch.topic == topics.BOTS:
                await self._insert("bot_events", BOT_COLUMNS, bot_rows(batch.rows), batch)
                return []
            return await self._write_events(batch)
        except Exception as exc:  # the two interfaces raise various types
            if not _refuses_data(exc):
                raise SinkWriteFailed(f"{batch.token} not written: {exc!r}") from exc
            # refused outside the row-by-row isolation of events: dead-letter, do not retry forever
            return [RejectedRow(source, _reason(exc)) for source in batch.sources]

    async def _write_events(self, batch: Batch) -> list[RejectedRow]:
        """Events, isolating rows ClickHouse refuses; persons and identities follow from them
        through materialized views."""
        return await self._insert_isolating(batch, batch.rows, batch.sources)

    async def _insert_isolating(
        self, batch: Batch, lines: list[bytes], sources: list[Source]
    ) -> list[RejectedRow]:
        """Insert event lines; if ClickHouse refuses the block for its data, halve it until the
        refused lines are alone. Each part's token names its offset range, so a retry after a
        crash repeats exactly the same inserts and ClickHouse drops them."""
        token = f"{batch.topic}:{batch.partition}:{sources[0].offset}-{sources[-1].offset}"
        try:
            await self._call(
                _insert_json,
                self._require_client(),
                self._table("events"),
                b"\n".join(lines),
                self._write_settings(batch.partition, token),
            )
            return []
        except Exception as exc:
            if not _refuses_data(exc):
                raise
            if len(lines) == 1:
                return [RejectedRow(sources[0], _reason(exc))]
        middle = len(lines) // 2
        return await self._insert_isolating(
            batch, lines[:middle], sources[:middle]
        ) + await self._insert_isolating(batch, lines[middle:], sources[middle:])

    async def _insert(
        self, table: str, columns: tuple[str, ...], rows: list[list[Any]], batch: Batch
    ) -> None:
        if rows:
            settings = self._write_settings(batch.partition, batch.token)
            await self._call(
                _insert, self._require_client(), self._table(table), columns, rows, settings
            )

    def _table(self, table: str) -> str:
        return f"{table}_all" if self._settings.cluster else table

    def _write_settings(self, partition: int, token: str) -> dict[str, Any]:
        settings = _dedup_settings(token)
        if self._settings.cluster:
            settings |= {
                "insert_shard_id": partition % self._shards + 1,
                "distributed_foreground_insert": 1,
            }
        return settings

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
