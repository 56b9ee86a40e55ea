"""The sink's consumer and checkpoint against real Kafka and a real ClickHouse HTTP server,
through faults: killed between insert and commit, and ClickHouse down for 30 s under a steady
stream. Either way each event is stored exactly once: counted without FINAL, and in the roll-ups."""

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.stack import Stack
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from schemas import topics
from tests.conftest import free_port
from tests.helpers import eventually, http_ok, start_group_at_end, stop
from tests.sinks.clickhouse.stores import fresh_database
from tests.sinks.sink_process import (
    committed_everything,
    counts,
    produce_events,
    sink_environment,
    start_sink,
)

pytestmark = pytest.mark.integration


def test_killed_between_insert_and_commit_leaves_no_duplicate(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    """3 KB events: each partition's range is more than one fetch (1 MB), so the restarted sink
    reads the ranges it must write again in pieces, interleaved across partitions."""
    project, group, total = f"kill{uuid.uuid4().hex[:6]}", f"sink-kill-{uuid.uuid4().hex}", 3000
    database = fresh_database(clickhouse_url)
    env = sink_environment(tmp_path, kafka_bootstrap, clickhouse_url, database, group)
    start_group_at_end(kafka_bootstrap, group, topics.EVENTS)
    produce_events(kafka_bootstrap, project, 0, total, padding=3_000)
    pause = {  # one batch per partition, of everything, then no commit
        "HEADWATER_SINK_FAULT_PAUSE_BEFORE_COMMIT_MS": "60000",
        "HEADWATER_SINK_BATCH_MAX_AGE_MS": "5000",
    }
    paused, _ = start_sink(tmp_path, env | pause, "paused")
    try:  # every row inserted, no offset committed past them: kill it there
        eventually(lambda: counts(clickhouse_url, database, project)[0] == total, timeout=60,
                   what="rows inserted")  # fmt: skip
        assert not committed_everything(kafka_bootstrap, group)
    finally:
        paused.send_signal(signal.SIGKILL)
        paused.wait()
    sink, _ = start_sink(tmp_path, env, "restarted")
    try:
        eventually(
            lambda: committed_everything(kafka_bootstrap, group), timeout=60, what="caught up"
        )
        assert counts(clickhouse_url, database, project) == (total, total)
    finally:
        stop(sink)


@pytest.fixture
def own_clickhouse(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    """A ClickHouse server of this test's own, so it can be stopped without harming others
    (`url=None`: even when `CLICKHOUSE_URL` names the session's server)."""
    settings = ClickHouseSettings(
        url=None, mode="server", http_port=free_port(), tcp_port=free_port()
    )
    stack = Stack(
        HeadwaterSettings(data_dir=tmp_path / "ch"),
        KafkaSettings(bootstrap=kafka_bootstrap),
        settings,
    )
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


def test_clickhouse_down_for_30_s_loses_and_duplicates_nothing(
    kafka_bootstrap: str, own_clickhouse: Stack, tmp_path: Path
) -> None:
    url = next(row.where for row in own_clickhouse.status() if row.name == "clickhouse")
    project, group = f"down{uuid.uuid4().hex[:6]}", f"sink-down-{uuid.uuid4().hex}"
    database = fresh_database(url)
    env = sink_environment(tmp_path, kafka_bootstrap, url, database, group)
    start_group_at_end(kafka_bootstrap, group, topics.EVENTS)
    sink, sink_url = start_sink(tmp_path, env, "sink")
    sent = 0
    try:
        eventually(lambda: http_ok(f"{sink_url}/readyz"), timeout=60, what="sink ready")
        deadline, down_at, up_at = time.monotonic() + 45, time.monotonic() + 5, None
        while time.monotonic() < deadline:  # a steady stream, ~100 events/s
            produce_events(kafka_bootstrap, project, sent, 20)
            sent += 20
            if down_at and time.monotonic() > down_at:
                own_clickhouse.down()
                eventually(lambda: not http_ok(f"{sink_url}/readyz"), timeout=30, what="not ready")
                down_at, up_at = None, time.monotonic() + 30
            if up_at and time.monotonic() > up_at:
                own_clickhouse.up()
                up_at = None
            time.sleep(0.2)
        eventually(lambda: counts(url, database, project)[0] == sent, timeout=90, what="all rows")
        assert counts(url, database, project) == (sent, sent)
        assert http_ok(f"{sink_url}/readyz")
    finally:
        stop(sink)
