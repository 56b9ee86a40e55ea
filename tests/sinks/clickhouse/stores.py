"""The ClickHouse stores the sink tests write to: the embedded engine, or a database of their own
on the session's ClickHouse server."""

import uuid

import clickhouse_connect

from runtime.settings import ClickHouseSettings

__all__ = ["embedded", "fresh_database"]


def embedded() -> ClickHouseSettings:
    """The embedded engine, even when `CLICKHOUSE_URL` names the session's server (an unset
    `url` would be read from it, and the tests would share the server's default database)."""
    return ClickHouseSettings(mode="embedded", url=None)


def fresh_database(url: str) -> str:
    """A new, empty database on the server at `url`."""
    database = f"faults_{uuid.uuid4().hex[:8]}"
    client = clickhouse_connect.get_client(dsn=url)
    try:
        client.command(f"CREATE DATABASE {database}")
    finally:
        client.close()
    return database
