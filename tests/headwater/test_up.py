"""`headwater up` as a user runs it: own local broker, embedded ClickHouse, Ctrl-C to stop.

It starts its own Kafka (on free ports, in a fresh data folder) rather than the session's, so the
whole user path is covered: jars, storage format, start, readiness, and a clean stop.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from headwater.keys import DevCredentials
from headwater.stack.process import pid_alive
from runtime.settings import HeadwaterSettings
from tests.conftest import free_port
from tests.helpers import children_of, environment, eventually, headwater, run_headwater

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for child in children_of(pid):
        found |= {child} | descendants(child)
    return found


def sql(query: str, env: dict[str, str]) -> str:
    return run_headwater("sql", query, env=env)


def test_up_serves_the_seed_pageview_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    gateway_port = free_port()
    overrides = {
        "HEADWATER_DATA_DIR": str(data_dir),
        "HEADWATER_KAFKA_PORT": str(free_port()),
        "HEADWATER_KAFKA_CONTROLLER_PORT": str(free_port()),
        "HEADWATER_GATEWAY_PORT": str(gateway_port),
        "HEADWATER_SINK_PORT": str(free_port()),
        "HEADWATER_SINK_GROUP_ID": "test-up-sink",
        "HEADWATER_PROCESSORS_APP_ID": "test-up-processors",
        "HEADWATER_PROCESSORS_METRICS_PORT": str(free_port()),
        "HEADWATER_ENGINE_APP_ID": "test-up-engine",
        "HEADWATER_ENGINE_METRICS_PORT": str(free_port()),
    }
    env = environment(overrides, unset=("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL"))
    log = tmp_path / "up.log"
    up = headwater("up", env=env, log=log)
    try:
        eventually(lambda: "Headwater is up" in log.read_text(), timeout=120, what="headwater up")
        credentials_file = HeadwaterSettings(data_dir=data_dir).credentials_file
        credentials = DevCredentials.from_env(credentials_file.read_text())
        assert credentials.vemetric_token in log.read_text()

        response = httpx2.post(
            f"http://127.0.0.1:{gateway_port}/e",
            headers={"Content-Type": "application/json", "Allow-Cookies": "false"},
            json={
                "projectToken": credentials.vemetric_token,
                "name": "$pageview",
                "url": "https://example.com/blog/article",
                "identifier": "user_123",
                "displayName": "john@example.com",
            },
        )
        assert (response.status_code, response.content) == (200, b"")
        accepted = time.monotonic()
        table = eventually(
            lambda: (
                (out := sql("SELECT name, url FROM events", env)) and "$pageview" in out and out
            ),
            timeout=10,
            what="the row in `headwater sql`",
        )
        print(f"row visible {time.monotonic() - accepted:.2f}s after the 200")
        assert "https://example.com/blog/article" in table

        processes = descendants(up.pid)
        assert len(processes) >= 5  # kafka, sink, processors, engine, gateway
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0, log.read_text()
        left = [pid for pid in processes if pid_alive(pid)]
        assert left == [], f"processes left behind: {left}"
        assert not (data_dir / "sink.json").exists()
        assert "$pageview" in sql("SELECT name FROM events", env)  # the store opens directly now
    finally:  # after a failure too: stop what `up` started, not only `up` itself
        started = descendants(up.pid) if up.poll() is None else []
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()
        for pid in started:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        subprocess.run([sys.executable, "-m", "headwater", "stack", "down"], env=env, check=False)
