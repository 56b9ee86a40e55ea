"""The ClickHouse sink: one deduplicated insert per flush for the events of all partitions (per
shard on a cluster), one per partition's batch for the other topics; refused rows isolated.

See the package's docstring for the wire format; `errors.py` decides what a failed write means.
"""

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from runtime.settings import ClickHouseSettings
from schemas import topics
from sinks.base import Batch, BatchingSink, RejectedRow, Source
from sinks.clickhouse.client import ClientPool, shard_count
from sinks.clickhouse.errors import DataRefused, write_errors
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.rows import (
    BOT_COLUMNS,
    COMMAND_COLUMNS,
    ENTRY_COLUMNS,
    STEP_COLUMNS,
    VERSION_COLUMNS,
    bot_rows,
    command_rows,
    decode_row,
    entry_rows,
    step_rows,
    version_rows,
)

__all__ = ["ClickHouseSink"]


# topic -> (table, columns, rows of a batch), for the small tables written as columns
_COLUMNAR: dict[str, tuple[str, tuple[str, ...], Callable[[list[Any]], list[list[Any]]]]] = {
    topics.ENTRIES: ("entries", ENTRY_COLUMNS, entry_rows),
    topics.BOTS: ("bot_events", BOT_COLUMNS, bot_rows),
    topics.WORKFLOWS: ("workflow_versions", VERSION_COLUMNS, version_rows),
    topics.WORKFLOW_COMMANDS: ("workflow_commands", COMMAND_COLUMNS, command_rows),
    topics.WORKFLOW_HISTORY: ("workflow_steps", STEP_COLUMNS, step_rows),
}


def _dedup_settings(token: str) -> dict[str, Any]:
    """Each batch is one synchronous insert whose token makes its retry a no-op, views included.
    ClickHouse 26.x turns `async_insert` on by default: the server would then merge our batches
    with other inserts in its own buffer, where a token no longer names one block. The views an
    insert feeds run side by side: they are most of a small insert's time (docs/performance.md,
    "Sink: a flush's inserts side by side")."""
    return {
        "insert_deduplication_token": token,
        "insert_deduplicate": 1,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "async_insert": 0,
        "parallel_view_processing": 1,
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


def _query(client: Client, sql: str, fmt: str | None) -> str:
    return client.raw_query(sql, fmt=fmt).decode()


def _ping(client: Client) -> bool:
    return client.ping()


class ClickHouseSink(BatchingSink):
    """Writes each partition's batch as one insert; `start()` applies the migrations.

    On a cluster, each batch goes through the table's Distributed `_all` table to the one shard
    its Kafka partition maps to (`insert_shard_id`), synchronously: a retried batch then reaches
    the shard, and the deduplication log, that saw it first, and all events of one key (a person)
    share a shard. Changing the shard count remaps partitions: stop the sinks first."""

    def __init__(
        self,
        settings: ClickHouseSettings,
        data_dir: Path,
        max_rows: int,
        max_age_s: float,
        writers: int = 1,
    ) -> None:
        """`writers`: the connections a flush writes its partitions' batches over at once."""
        super().__init__(max_rows, max_age_s)
        self._settings = settings
        self._clickhouse = ClientPool(settings, data_dir, writers)
        self._shards = 1

    async def start(self) -> None:
        await self._clickhouse.start()
        await self._clickhouse.call(migrate, self._settings.cluster)
        if self._settings.cluster:
            self._shards = await self._clickhouse.call(shard_count, self._settings.cluster)

    async def stop(self) -> None:
        await self._clickhouse.stop()

    def decode(self, topic: str, source: Source) -> Any:
        return decode_row(topic, source)

    async def write(self, batch: Batch) -> list[RejectedRow]:
        try:
            with write_errors(batch.token):
                return await self._write(batch)
        except DataRefused as refused:
            # refused outside the row-by-row isolation of events: dead-letter, do not retry forever
            return [RejectedRow(source, refused.reason) for source in batch.sources]

    def group_key(self, batch: Batch) -> Hashable | None:
        """The events of all partitions bound for one shard go in one insert: an insert costs
        ClickHouse about the same whatever its size, much of it its materialized views
        (docs/performance.md, "Sink: one insert per flush, and a batch's age from Kafka")."""
        return batch.partition % self._shards if batch.topic == topics.EVENTS else None

    async def write_group(self, batches: list[Batch], token: str) -> list[list[RejectedRow]]:
        """Events batches of several partitions as one insert named `token`; if ClickHouse
        refuses its data, each batch is written alone, isolating the refused rows (the same
        split whoever writes the group again)."""
        lines = [line for batch in batches for line in batch.rows]
        try:
            with write_errors(token):
                await self._insert_events(lines, batches[0].partition, token)
            return [[] for _ in batches]
        except DataRefused:
            return [await self.write(batch) for batch in batches]

    async def _write(self, batch: Batch) -> list[RejectedRow]:
        columnar = _COLUMNAR.get(batch.topic)
        if columnar is not None:
            table, columns, rows = columnar
            await self._insert(table, columns, rows(batch.rows), batch)
            return []
        # events, isolating rows ClickHouse refuses; persons and identities follow from them
        # through materialized views
        return await self._insert_isolating(batch, batch.rows, batch.sources)

    async def _insert_isolating(
        self, batch: Batch, lines: list[bytes], sources: list[Source]
    ) -> list[RejectedRow]:
        """Insert event lines; if ClickHouse refuses the block for its data, halve it until the
        refused lines are alone. Each part's token names its offset range, so a retry after a
        crash repeats exactly the same inserts and ClickHouse drops them."""
        token = f"{batch.topic}:{batch.partition}:{sources[0].offset}-{sources[-1].offset}"
        try:
            with write_errors(batch.token):
                await self._insert_events(lines, batch.partition, token)
            return []
        except DataRefused as refused:
            if len(lines) == 1:
                return [RejectedRow(sources[0], refused.reason)]
        middle = len(lines) // 2
        return await self._insert_isolating(
            batch, lines[:middle], sources[:middle]
        ) + await self._insert_isolating(batch, lines[middle:], sources[middle:])

    async def _insert_events(self, lines: list[bytes], partition: int, token: str) -> None:
        """Event lines as one insert named `token`, to the shard of `partition`."""
        settings = self._write_settings(partition, token)
        await self._clickhouse.call(
            _insert_json, self._table("events"), b"\n".join(lines), settings
        )

    async def _insert(
        self, table: str, columns: tuple[str, ...], rows: list[list[Any]], batch: Batch
    ) -> None:
        if rows:
            settings = self._write_settings(batch.partition, batch.token)
            await self._clickhouse.call(_insert, self._table(table), columns, rows, settings)

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

    async def query(self, sql: str, fmt: str | None = None) -> str:
        """ClickHouse's answer as text, in `fmt` (default: the format the SQL names, else
        ClickHouse's own default); `headwater sql` chooses the format for a terminal."""
        return await self._clickhouse.call(_query, sql, fmt)

    async def ping(self) -> bool:
        return await self._clickhouse.call(_ping)
