"""Which local services a Stack runs for the settings: none for external Kafka and ClickHouse,
no process for the embedded engine, a ClickHouse server only in server mode without a URL.
Nothing is started here: `status()` reads pid files only."""

import os
from pathlib import Path

import pytest

from headwater.stack import ServiceStatus, Stack
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings

EXTERNAL_KAFKA, EXTERNAL_CLICKHOUSE = "kafka-1:9092", "https://ch.example.com:8443"
LOCAL_KAFKA, LOCAL_CLICKHOUSE = "127.0.0.1:19555", "http://127.0.0.1:18555"
EMBEDDED = ServiceStatus("clickhouse", True, None, "embedded in the sink (no process)")


def stack(data_dir: Path, bootstrap: str | None, url: str | None, mode: str) -> Stack:
    return Stack(
        HeadwaterSettings(data_dir=data_dir),
        KafkaSettings(bootstrap=bootstrap, port=19555),
        ClickHouseSettings(url=url, mode=mode, http_port=18555),
    )


@pytest.mark.parametrize(
    ("bootstrap", "url", "mode", "rows"),
    [
        (
            EXTERNAL_KAFKA,
            EXTERNAL_CLICKHOUSE,
            "server",  # a URL wins over the mode: nothing local
            [
                ServiceStatus("kafka", True, None, f"external {EXTERNAL_KAFKA}"),
                ServiceStatus("clickhouse", True, None, f"external {EXTERNAL_CLICKHOUSE}"),
            ],
        ),
        (
            EXTERNAL_KAFKA,
            None,
            "embedded",
            [ServiceStatus("kafka", True, None, f"external {EXTERNAL_KAFKA}"), EMBEDDED],
        ),
        (
            EXTERNAL_KAFKA,
            None,
            "server",
            [
                ServiceStatus("clickhouse", False, None, LOCAL_CLICKHOUSE),
                ServiceStatus("kafka", True, None, f"external {EXTERNAL_KAFKA}"),
            ],
        ),
        (None, None, "embedded", [ServiceStatus("kafka", False, None, LOCAL_KAFKA), EMBEDDED]),
        (
            None,
            None,
            "server",
            [
                ServiceStatus("kafka", False, None, LOCAL_KAFKA),
                ServiceStatus("clickhouse", False, None, LOCAL_CLICKHOUSE),
            ],
        ),
    ],
    ids=["all external", "external kafka, embedded", "local clickhouse", "local kafka", "both"],
)
def test_status_lists_the_local_services_the_settings_call_for(
    tmp_path: Path, bootstrap: str | None, url: str | None, mode: str, rows: list[ServiceStatus]
) -> None:
    assert stack(tmp_path, bootstrap, url, mode).status() == rows


def test_with_external_services_up_and_down_have_nothing_to_do(tmp_path: Path) -> None:
    external = stack(tmp_path, EXTERNAL_KAFKA, EXTERNAL_CLICKHOUSE, "embedded")
    assert external.up() == [] and external.down() == []


def test_a_local_service_whose_pid_file_names_a_live_process_is_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "clickhouse-server" / "clickhouse.pid"
    pid_file.parent.mkdir()
    pid_file.write_text(str(os.getpid()))  # this process stands in for the server
    [clickhouse, _] = stack(tmp_path, EXTERNAL_KAFKA, None, "server").status()
    assert clickhouse == ServiceStatus("clickhouse", True, os.getpid(), LOCAL_CLICKHOUSE)
