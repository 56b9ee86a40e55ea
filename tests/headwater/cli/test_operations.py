"""Operator commands: `headwater settings` prints the operators' env file, `stack status` says
what runs where, and `sql` answers from the configured ClickHouse."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.cli import cli
from tests.conftest import ROOT

KAFKA, CLICKHOUSE = "kafka-1:9092,kafka-2:9092", "https://ch.example.com:8443"


def headwater_ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No service addresses and a data folder of the test's own; the test sets what it needs."""
    monkeypatch.setenv("HEADWATER_DATA_DIR", str(tmp_path))
    for variable in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL", "HEADWATER_CLICKHOUSE_MODE"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_settings_prints_the_operators_env_file() -> None:
    assert headwater_ok("settings") == (ROOT / "deploy" / "headwater.env").read_text()


@pytest.mark.parametrize(
    ("clickhouse", "rows"),
    [
        (
            {"CLICKHOUSE_URL": CLICKHOUSE},
            [
                ["kafka", "running", "external", KAFKA],
                ["clickhouse", "running", "external", CLICKHOUSE],
            ],
        ),
        (
            {},
            [
                ["kafka", "running", "external", KAFKA],
                ["clickhouse", "running", "embedded", "in", "the", "sink", "(no", "process)"],
            ],
        ),
    ],
    ids=["external", "embedded"],
)
def test_stack_status_with_external_kafka_shows_nothing_local(
    operator_env: pytest.MonkeyPatch, clickhouse: dict[str, str], rows: list[list[str]]
) -> None:
    for variable, value in {"KAFKA_BOOTSTRAP": KAFKA, **clickhouse}.items():
        operator_env.setenv(variable, value)
    assert [line.split() for line in headwater_ok("stack", "status").splitlines()] == rows


def test_stack_status_shows_a_local_service_that_is_not_running(
    operator_env: pytest.MonkeyPatch,
) -> None:
    operator_env.setenv("KAFKA_BOOTSTRAP", KAFKA)
    operator_env.setenv("HEADWATER_CLICKHOUSE_MODE", "server")
    operator_env.setenv("HEADWATER_CLICKHOUSE_HTTP_PORT", "18555")
    assert [line.split() for line in headwater_ok("stack", "status").splitlines()] == [
        ["clickhouse", "stopped", "http://127.0.0.1:18555"],
        ["kafka", "running", "external", KAFKA],
    ]


@pytest.mark.integration
def test_sql_prints_the_answer_of_the_configured_clickhouse(
    operator_env: pytest.MonkeyPatch, clickhouse_url: str
) -> None:
    operator_env.setenv("CLICKHOUSE_URL", clickhouse_url)
    assert headwater_ok("sql", "SELECT 40 + 2 AS answer FORMAT TSVWithNames") == "answer\n42\n"
    table = headwater_ok("sql", "SELECT 40 + 2 AS answer")
    assert "answer" in table.splitlines()[0] and "42" in table.splitlines()[1]
