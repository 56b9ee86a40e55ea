"""Versioned SQL migrations: `migrations/NNNN_name.sql` beside this module, applied in order,
each once.

Applied versions are recorded in `schema_migrations` with a checksum of their text, so running
`migrate` again (on every sink start, or `headwater migrate`) applies only what is new, and an
already-applied migration that was edited afterwards is refused rather than silently skipped.
A file may hold several statements, each ending with `;` at the end of a line.

On a sharded, replicated ClickHouse (`HEADWATER_CLICKHOUSE_CLUSTER`) the same files apply through
`on_cluster`: every DDL statement runs ON CLUSTER, each `*MergeTree` becomes its `Replicated*`
variant (Keeper paths from the server's defaults: `/clickhouse/tables/{uuid}/{shard}`, `{replica}`),
and each table and view gets a Distributed `<name>_all` over the cluster. Materialized views stay
per shard, feeding the tables beside them. `ALTER TABLE` changes the table and its `_all` alike
(a Distributed table takes added, changed and commented columns). Data statements (`INSERT ...
SELECT`) run only on the shard migrate is connected to: a migration that rewrites data must read
and write `_all` tables to cover a cluster.
"""

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files

from clickhouse_connect.driver.client import Client

from runtime.errors import HeadwaterError

__all__ = [
    "Migration",
    "MigrationChanged",
    "load_migrations",
    "migrate",
    "on_cluster",
    "statements",
]

MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"(\d{4})_(\w+)\.sql")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")
_CREATE = re.compile(r"^CREATE (TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS (\w+)")
_LEADING_COMMENTS = re.compile(r"^(?:[ \t]*(?:--[^\n]*)?\n)+")
_DROP = re.compile(r"^DROP (TABLE|VIEW) IF EXISTS (\w+)")
_ALTER = re.compile(r"^ALTER TABLE (\w+)")
_ENGINE = re.compile(r"\bENGINE = (?!Replicated)(\w*MergeTree)\b")
_LOCAL_WINDOW = re.compile(r"\bnon_replicated_deduplication_window\b")
_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


class MigrationChanged(HeadwaterError):
    """An applied migration's file no longer matches what was applied: add a new one instead."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    found = []
    for path in files("sinks.clickhouse").joinpath("migrations").iterdir():
        if match := _FILE_NAME.fullmatch(path.name):
            found.append(Migration(int(match[1]), match[2], path.read_text()))
    return sorted(found, key=lambda m: m.version)


def statements(sql: str) -> list[str]:
    """The statements of a migration file, without comment-only leftovers."""
    parts = (part.strip() for part in _STATEMENT_END.split(sql))
    return [
        p for p in parts if p and not all(line.lstrip().startswith("--") for line in p.splitlines())
    ]


def on_cluster(statement: str, cluster: str | None) -> list[str]:
    """The statements that apply `statement` to `cluster` (itself alone without a cluster)."""
    if cluster is None:
        return [statement]
    where = f"ON CLUSTER '{cluster}'"
    statement = _LEADING_COMMENTS.sub("", statement)
    if drop := _DROP.match(statement):
        return [
            f"DROP TABLE IF EXISTS {drop[2]}_all {where} SYNC",
            f"{drop[0]} {where} SYNC{statement[drop.end() :]}",
        ]
    if alter := _ALTER.match(statement):
        table, rest = alter[1], statement[alter.end() :]
        return [f"ALTER TABLE {table} {where}{rest}", f"ALTER TABLE {table}_all {where}{rest}"]
    create = _CREATE.match(statement)
    if create is None:
        return [statement]
    kind, name = create.groups()
    body = _ENGINE.sub(r"ENGINE = Replicated\1", statement[create.end() :])
    body = _LOCAL_WINDOW.sub("replicated_deduplication_window", body)  # kept in Keeper
    rendered = [f"{create[0]} {where}{body}"]
    if kind != "MATERIALIZED VIEW":
        rendered.append(
            f"CREATE TABLE IF NOT EXISTS {name}_all {where} AS {name} "
            f"ENGINE = Distributed('{cluster}', currentDatabase(), {name}, rand())"
        )
    return rendered


def migrate(client: Client, cluster: str | None = None) -> list[Migration]:
    """Apply every migration not yet recorded; return those applied now.

    On a cluster, the record of applied migrations is read and written through its Distributed
    table, so whichever shard migrate connects to sees the same history."""
    for statement in on_cluster(_CREATE_TABLE.strip(), cluster):
        client.command(statement)
    record = f"{MIGRATIONS_TABLE}_all" if cluster else MIGRATIONS_TABLE
    applied = {
        int(version): checksum
        for version, checksum in client.query(
            f"SELECT version, argMax(checksum, applied_at) FROM {record} GROUP BY version"
        ).result_rows
    }
    done = []
    for migration in load_migrations():
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationChanged(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; write a new migration instead"
                )
            continue
        for statement in statements(migration.sql):
            for rendered in on_cluster(statement, cluster):
                client.command(rendered)
        client.insert(
            record,
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
            settings={"distributed_foreground_insert": 1} if cluster else None,
        )
        done.append(migration)
    return done
