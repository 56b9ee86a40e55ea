"""Versioned SQL migrations: `sinks/migrations/NNNN_name.sql`, applied in order, each once.

Applied versions are recorded in `schema_migrations` with a checksum of their text, so running
`migrate` again (on every sink start, or `headwater migrate`) applies only what is new, and an
already-applied migration that was edited afterwards is refused rather than silently skipped.
A file may hold several statements, each ending with `;` at the end of a line.
"""

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files

from clickhouse_connect.driver.client import Client

from headwater.errors import HeadwaterError

__all__ = ["Migration", "MigrationChanged", "load_migrations", "migrate", "statements"]

MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"(\d{4})_(\w+)\.sql")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")
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
    for path in files("sinks").joinpath("migrations").iterdir():
        if match := _FILE_NAME.fullmatch(path.name):
            found.append(Migration(int(match[1]), match[2], path.read_text()))
    return sorted(found, key=lambda m: m.version)


def statements(sql: str) -> list[str]:
    """The statements of a migration file, without comment-only leftovers."""
    parts = (part.strip() for part in _STATEMENT_END.split(sql))
    return [
        p for p in parts if p and not all(line.lstrip().startswith("--") for line in p.splitlines())
    ]


def migrate(client: Client) -> list[Migration]:
    """Apply every migration not yet recorded; return those applied now."""
    client.command(_CREATE_TABLE)
    applied = {
        int(version): checksum
        for version, checksum in client.query(
            f"SELECT version, argMax(checksum, applied_at) FROM {MIGRATIONS_TABLE} GROUP BY version"
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
            client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(migration)
    return done
