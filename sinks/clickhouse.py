"""The ClickHouse sink: columnar inserts of processed events into the `events` table.

The same code runs against a ClickHouse server over HTTP and against the embedded engine
(clickhouse-connect's `interface="chdb"`). Both clients are synchronous, and the embedded one must
not be used from two threads at once, so every call goes through one worker thread.
"""

import asyncio
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

from headwater.settings import ClickHouseSettings
from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, decode
from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.errors import SinkWriteFailed
from sinks.migrate import migrate

__all__ = ["COLUMNS", "ClickHouseSink", "EntryChange", "connect", "event_row", "pretty_query"]

T = TypeVar("T")

COLUMNS = (
    "event_id", "project_id", "source_format", "name", "event_time", "received_at",
    "is_historical", "person_id", "idempotency_key", "source_event_id", "user_id",
    "anonymous_id", "identifier_key", "identifier_value", "embeddable_id", "url", "context",
    "properties", "metrics", "dimensions", "user_data", "schema_version",
)  # fmt: skip
PERSON_COLUMNS = ("project_id", "person_id", "key", "op", "value", "event_time", "version")
IDENTITY_COLUMNS = ("project_id", "anonymous_id", "person_id", "linked_at", "version")
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


def _insert(
    client: Client, table: str, columns: tuple[str, ...], rows: list[list[Any]], token: str
) -> None:
    client.insert(
        table,
        rows,
        column_names=columns,
        settings={
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        },
    )


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


def event_row(event: Event) -> list[Any]:
    """One `events` row, in `COLUMNS` order; nested JSON kept as text."""
    values = {
        "person_id": person_of(event),
        "properties": orjson.dumps(event.properties).decode(),
        "user_data": orjson.dumps(event.user_data.model_dump()).decode(),
    }
    return [values[name] if name in values else getattr(event, name) for name in COLUMNS]


def person_of(event: Event) -> str:
    return event.user_id or event.anonymous_id or event.identifier_value or ""


def person_property_rows(events: list[Event]) -> list[list[Any]]:
    rows = []
    for event in events:
        millis = int(event.event_time.timestamp() * 1000)
        for op, values, version in (
            ("set", event.user_data.set, millis),
            ("set_once", event.user_data.set_once, -millis),
        ):
            rows += [
                [event.project_id, person_of(event), key, op, orjson.dumps(value).decode(),
                 event.event_time, version]
                for key, value in values.items()
            ]  # fmt: skip
    return rows


def identity_rows(events: list[Event]) -> list[list[Any]]:
    """A link for every event that names both an anonymous id and a user id."""
    return [
        [
            e.project_id,
            e.anonymous_id,
            e.user_id,
            e.event_time,
            int(e.event_time.timestamp() * 1000),
        ]
        for e in events
        if e.anonymous_id and e.user_id
    ]


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

    def decode(self, topic: str, source: Source) -> Any:
        """The row a record becomes; raises ValidationError or ValueError for a bad record."""
        if topic == topics.ENTRIES:
            return EntryChange.decode(source.key, source.value, source.offset)
        return decode(source.value or b"")

    async def write(self, batch: Batch) -> list[RejectedRow]:
        try:
            if batch.topic == topics.ENTRIES:
                await self._insert("entries", ENTRY_COLUMNS, entry_rows(batch.rows), batch.token)
                return []
            if batch.topic == topics.BOTS:
                await self._insert("bot_events", BOT_COLUMNS, bot_rows(batch.rows), batch.token)
                return []
            return await self._write_events(batch)
        except Exception as exc:  # the two interfaces raise various types
            if not _refuses_data(exc):
                raise SinkWriteFailed(f"{batch.token} not written: {exc!r}") from exc
            # refused outside the row-by-row isolation of events: dead-letter, do not retry forever
            return [RejectedRow(source, _reason(exc)) for source in batch.sources]

    async def _write_events(self, batch: Batch) -> list[RejectedRow]:
        """Events first (isolating rows ClickHouse refuses), then what they say about people."""
        events, rejected = await self._insert_isolating(batch, batch.rows, batch.sources)
        await self._insert(
            "person_properties", PERSON_COLUMNS, person_property_rows(events), batch.token
        )
        await self._insert("identity_map", IDENTITY_COLUMNS, identity_rows(events), batch.token)
        return rejected

    async def _insert_isolating(
        self, batch: Batch, events: list[Event], sources: list[Source]
    ) -> tuple[list[Event], list[RejectedRow]]:
        """Insert `events`; if ClickHouse refuses the block for its data, halve it until the
        refused rows are alone. Each part's token names its offset range, so a retry after a
        crash repeats exactly the same inserts and ClickHouse drops them."""
        token = f"{batch.topic}:{batch.partition}:{sources[0].offset}-{sources[-1].offset}"
        try:
            await self._insert("events", COLUMNS, [event_row(e) for e in events], token)
            return events, []
        except Exception as exc:
            if not _refuses_data(exc):
                raise
            if len(events) == 1:
                return [], [RejectedRow(sources[0], _reason(exc))]
        middle = len(events) // 2
        first, first_rejected = await self._insert_isolating(
            batch, events[:middle], sources[:middle]
        )
        second, second_rejected = await self._insert_isolating(
            batch, events[middle:], sources[middle:]
        )
        return first + second, first_rejected + second_rejected

    async def _insert(
        self, table: str, columns: tuple[str, ...], rows: list[list[Any]], token: str
    ) -> None:
        if rows:
            await self._call(_insert, self._require_client(), table, columns, rows, token)

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
