"""`headwater sql` and `headwater migrate`: a server is queried directly; an embedded store held
by a running sink is queried through that sink, and left for it to migrate."""

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from headwater.errors import QueryFailed
from headwater.sql import output_format, run_migrations, run_sql
from runtime.errors import HeadwaterError
from runtime.settings import ClickHouseSettings, HeadwaterSettings
from tests.conftest import free_port

EMBEDDED = ClickHouseSettings(url=None, mode="embedded")
TABLE = "PrettyCompactMonoBlock"


@pytest.mark.parametrize(
    ("query", "fmt"),
    [
        ("SELECT 1", TABLE),
        ("SELECT 1 FORMAT JSONEachRow", None),
        ("select 1 format csv;", None),
        ("SELECT 'FORMAT' AS word", TABLE),
    ],
)
def test_a_query_is_shown_as_a_table_unless_it_names_its_format(
    query: str, fmt: str | None
) -> None:
    assert output_format(query) == fmt


def held_by_a_sink(data_dir: Path, url: str) -> HeadwaterSettings:
    """Settings whose data folder says a live sink (this process) holds the embedded store."""
    settings = HeadwaterSettings(data_dir=data_dir)
    settings.sink_holder_file.write_bytes(orjson.dumps({"pid": os.getpid(), "url": url}))
    return settings


@contextmanager
def sink_answering(status: int, answer: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A stand-in for a sink's /sql: its URL, and the (path, query) of each request."""
    received: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.rfile.read(length).decode()))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("query", "path"),
    [("SELECT 1", f"/sql?format={TABLE}"), ("SELECT 1 FORMAT TSV", "/sql")],
)
def test_an_embedded_store_held_by_a_sink_is_queried_through_it(
    tmp_path: Path, query: str, path: str
) -> None:
    with sink_answering(200, "the sink's answer") as (url, received):
        assert run_sql(query, held_by_a_sink(tmp_path, url), EMBEDDED) == "the sink's answer"
    assert received == [(path, query)]


def test_the_sinks_refusal_is_a_failed_query(tmp_path: Path) -> None:
    with sink_answering(400, "Code: 62. Syntax error") as (url, _):
        settings = held_by_a_sink(tmp_path, url)
        with pytest.raises(QueryFailed, match=re.escape("Code: 62. Syntax error")):
            run_sql("SELEC 1", settings, EMBEDDED)


def test_a_sink_that_does_not_answer_is_a_failed_query(tmp_path: Path) -> None:
    settings = held_by_a_sink(tmp_path, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(QueryFailed, match="the sink holding the embedded store did not answer"):
        run_sql("SELECT 1", settings, EMBEDDED)


def test_migrations_are_left_to_the_sink_holding_the_store(tmp_path: Path) -> None:
    with pytest.raises(HeadwaterError, match=re.escape("the sink at http://127.0.0.1:8081 holds")):
        run_migrations(held_by_a_sink(tmp_path, "http://127.0.0.1:8081"), EMBEDDED)


@pytest.mark.integration
def test_a_server_answers_as_a_table_or_in_the_format_named(
    clickhouse_url: str, tmp_path: Path
) -> None:
    # A sink's claim on an embedded store does not matter when ClickHouse is a server.
    settings = held_by_a_sink(tmp_path, f"http://127.0.0.1:{free_port()}")
    server = ClickHouseSettings(url=clickhouse_url)
    assert run_sql("SELECT 40 + 2 AS answer FORMAT TSV", settings, server) == "42\n"
    header, row = run_sql("SELECT 40 + 2 AS answer", settings, server).splitlines()[:2]
    assert "answer" in header and "42" in row


@pytest.mark.integration
def test_a_query_the_server_refuses_fails_with_its_reason(
    clickhouse_url: str, tmp_path: Path
) -> None:
    with pytest.raises(QueryFailed, match="UNKNOWN_TABLE"):
        run_sql(
            "SELECT * FROM no_such_table",
            HeadwaterSettings(data_dir=tmp_path),
            ClickHouseSettings(url=clickhouse_url),
        )


@pytest.mark.integration
def test_migrations_apply_once_to_a_server(clickhouse_url: str, tmp_path: Path) -> None:
    settings, database = HeadwaterSettings(data_dir=tmp_path), f"sql_{uuid.uuid4().hex[:8]}"
    run_sql(f"CREATE DATABASE {database}", settings, ClickHouseSettings(url=clickhouse_url))
    server = ClickHouseSettings(url=clickhouse_url, database=database)
    try:
        applied = run_migrations(settings, server)
        assert applied and applied == sorted(applied) and applied[0].startswith("0001_")
        assert run_migrations(settings, server) == []
    finally:
        run_sql(f"DROP DATABASE {database}", settings, server)
