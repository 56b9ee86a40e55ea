"""The migrations: applied once, on the embedded engine and on a server, and as a sharded,
replicated ClickHouse gets them (`on_cluster`).

No ClickHouse cluster (Keeper, several servers) runs in the test suite: the rendering is checked
here, and every rendered statement is parsed by the session's real ClickHouse server."""

from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from runtime.settings import ClickHouseSettings
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import (
    _CREATE_TABLE,
    load_migrations,
    migrate,
    on_cluster,
    statements,
)
from tests.sinks.clickhouse.stores import embedded, fresh_database

EVERY_STATEMENT = [_CREATE_TABLE.strip()] + [
    statement for migration in load_migrations() for statement in statements(migration.sql)
]


def migrate_twice(client: Client) -> None:
    """Every migration applies the first time; the second run applies none and changes nothing."""
    assert len(migrate(client)) == len(load_migrations())
    tables = client.query("SHOW TABLES").result_rows
    assert migrate(client) == []
    assert client.query("SHOW TABLES").result_rows == tables


@pytest.mark.integration
def test_migrations_run_twice_change_nothing_the_second_time(tmp_path: Path) -> None:
    client = connect(embedded(), tmp_path)
    try:
        migrate_twice(client)
        assert client.query("SELECT count() FROM schema_migrations").result_rows[0][0] == len(
            load_migrations()
        )
    finally:
        client.close()


@pytest.mark.integration
def test_migrations_run_twice_on_the_server_change_nothing(clickhouse_url: str) -> None:
    database = fresh_database(clickhouse_url)
    settings = ClickHouseSettings(url=clickhouse_url, database=database)
    client = connect(settings, Path("."))
    try:
        migrate_twice(client)
    finally:
        client.close()


def rendered(cluster: str | None) -> list[str]:
    return [part for statement in EVERY_STATEMENT for part in on_cluster(statement, cluster)]


def test_without_a_cluster_statements_are_unchanged() -> None:
    assert rendered(None) == EVERY_STATEMENT


def test_every_table_is_replicated_and_every_ddl_runs_on_the_cluster() -> None:
    for statement in rendered("hw"):
        if statement.startswith(("CREATE", "DROP", "ALTER")):
            assert " ON CLUSTER 'hw'" in statement.splitlines()[0], statement
        if "MergeTree" in statement:
            assert "ENGINE = Replicated" in statement, statement
            assert "non_replicated_deduplication_window" not in statement


def test_tables_and_views_get_a_distributed_all_table_and_materialized_views_do_not() -> None:
    distributed = {s.split()[5] for s in rendered("hw") if "ENGINE = Distributed('hw'" in s}
    assert {"events_all", "events_daily_all", "persons_all", "events_resolved_all"} <= distributed
    assert {"schema_migrations_all", "entries_all", "bot_events_all"} <= distributed
    assert {"workflow_steps_all", "workflow_executions_all"} <= distributed
    assert not any(name.endswith("_mv_all") for name in distributed)


def test_a_dropped_table_takes_its_distributed_table_with_it() -> None:
    [drop_all, drop] = on_cluster("DROP VIEW IF EXISTS events_resolved", "hw")
    assert drop_all == "DROP TABLE IF EXISTS events_resolved_all ON CLUSTER 'hw' SYNC"
    assert drop == "DROP VIEW IF EXISTS events_resolved ON CLUSTER 'hw' SYNC"


def test_an_altered_table_and_its_distributed_table_change_alike() -> None:
    alter = "ALTER TABLE workflow_commands\n    ADD COLUMN IF NOT EXISTS starts Array(String)"
    assert on_cluster(alter, "hw") == [
        "ALTER TABLE workflow_commands ON CLUSTER 'hw'\n    ADD COLUMN IF NOT EXISTS starts "
        "Array(String)",
        "ALTER TABLE workflow_commands_all ON CLUSTER 'hw'\n    ADD COLUMN IF NOT EXISTS starts "
        "Array(String)",
    ]


def test_data_statements_are_left_to_the_connected_shard() -> None:
    insert = "INSERT INTO identity_links SELECT * FROM events"
    assert on_cluster(insert, "hw") == [insert]


@pytest.mark.integration
def test_clickhouse_parses_every_rendered_statement(clickhouse_url: str) -> None:
    client = clickhouse_connect.get_client(dsn=clickhouse_url)

    def parse(statement: str) -> None:
        client.query("SELECT formatQuery({q:String})", parameters={"q": statement})

    try:
        for statement in rendered("hw"):
            parse(statement)
        with pytest.raises(DatabaseError, match="SYNTAX_ERROR"):
            parse("CREATE TABLE t ON CLUSTER 'hw' IF NOT EXISTS (a Int8) ENGINE = Memory")
    finally:
        client.close()
