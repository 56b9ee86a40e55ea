"""The ClickHouse sink: batched inserts of events, people, entries and bot counts.

Events go in as JSON lines that ClickHouse parses itself; the smaller tables as columnar rows.
Every insert carries a deduplication token naming its offset range. The same code runs against a
ClickHouse server over HTTP and against the embedded engine (clickhouse-connect's
`interface="chdb"`). Both clients are synchronous, and the embedded one must not be used from two
threads at once, so every call goes through one worker thread.
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
from schemas.event import SCHEMA_VERSION
from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.errors import SinkWriteFailed
from sinks.migrate import migrate

__all__ = ["ClickHouseSink", "EntryChange", "EventRow", "connect", "pretty_query"]

T = TypeVar("T")

# The envelope an events-topic record must have; ClickHouse parses and checks the rest.
_REQUIRED = ("event_id", "project_id", "source_format", "name", "event_time", "received_at")
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


def _dedup_settings(token: str) -> dict[str, Any]:
    return {
        "insert_deduplication_token": token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
    }


def _insert(
    client: Client, table: str, columns: tuple[str, ...], rows: list[list[Any]], token: str
) -> None:
    client.insert(table, rows, column_names=columns, settings=_dedup_settings(token))


def _insert_json(client: Client, table: str, block: bytes, token: str) -> None:
    """Rows as JSON lines, parsed by ClickHouse: fields by name, unknown ones skipped, omitted
    ones from the column defaults (`person_id`)."""
    settings = _dedup_settings(token) | {
        "input_format_skip_unknown_fields": 1,
        "input_format_defaults_for_omitted_fields": 1,
        "date_time_input_format": "best_effort",
    }
    client.raw_insert(table, insert_block=block, fmt="JSONEachRow", settings=settings)


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


@dataclass(frozen=True, slots=True)
class EventRow:
    """A record of the events (or bots) topic: its JSON, parsed only as far as the sink needs.

    The processors validated it; the sink checks the envelope and hands the JSON to ClickHouse
    as is (JSONEachRow, parsed by ClickHouse in C++), which is what makes it fast."""

    raw: bytes
    data: dict[str, Any]

    @classmethod
    def decode(cls, value: bytes | None) -> "EventRow":
        data = orjson.loads(value or b"null")
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not an Event of schema version {SCHEMA_VERSION}")
        missing = [f for f in _REQUIRED if not isinstance(data.get(f), str) or not data[f]]
        if missing:
            raise ValueError(f"not an Event: missing {', '.join(missing)}")
        raw = value if value and b"\n" not in value else orjson.dumps(data)
        return cls(raw, data)

    @property
    def event_time(self) -> datetime:
        return datetime.fromisoformat(self.data["event_time"])


def person_of(data: dict[str, Any]) -> str:
    """As the `person_id` column's DEFAULT computes it."""
    return data.get("user_id") or data.get("anonymous_id") or data.get("identifier_value") or ""


def person_property_rows(events: list[EventRow]) -> list[list[Any]]:
    rows = []
    for event in events:
        user_data = event.data.get("user_data") or {}
        if not (user_data.get("set") or user_data.get("set_once")):
            continue
        at, person = event.event_time, person_of(event.data)
        millis = int(at.timestamp() * 1000)
        for op, version in (("set", millis), ("set_once", -millis)):
            rows += [
                [
                    event.data["project_id"],
                    person,
                    key,
                    op,
                    orjson.dumps(value).decode(),
                    at,
                    version,
                ]
                for key, value in (user_data.get(op) or {}).items()
            ]
    return rows


def identity_rows(events: list[EventRow]) -> list[list[Any]]:
    """A link for every event that names both an anonymous id and a user id."""
    rows = []
    for event in events:
        anonymous, user = event.data.get("anonymous_id"), event.data.get("user_id")
        if anonymous and user:
            at = event.event_time
            rows.append([event.data["project_id"], anonymous, user, at, int(at.timestamp() * 1000)])
    return rows


def bot_rows(events: list[EventRow]) -> list[list[Any]]:
    counts = Counter(
        (
            e.data["project_id"],
            e.event_time.date(),
            e.data["source_format"],
            (e.data.get("context") or {}).get("user_agent", ""),
        )
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
        return EventRow.decode(source.value)

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
        self, batch: Batch, events: list[EventRow], sources: list[Source]
    ) -> tuple[list[EventRow], list[RejectedRow]]:
        """Insert `events`; if ClickHouse refuses the block for its data, halve it until the
        refused rows are alone. Each part's token names its offset range, so a retry after a
        crash repeats exactly the same inserts and ClickHouse drops them."""
        token = f"{batch.topic}:{batch.partition}:{sources[0].offset}-{sources[-1].offset}"
        try:
            block = b"\n".join(event.raw for event in events)
            await self._call(_insert_json, self._require_client(), "events", block, token)
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
