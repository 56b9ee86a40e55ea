"""The processors against the real broker and ClickHouse, with the real sink behind them: dedupe,
identity, entries and dead letters; a worker killed mid-stream; a worker leaving its group.

Records are produced straight to the raw topic, as a direct producer would. Each test has its own
project; the sink and the processor groups start at the end of the shared topics.
"""

import asyncio
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import clickhouse_connect
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.entry import Entry, entry_key
from schemas.event import Event, encode
from tests.conftest import free_port
from tests.factories import NOW, make_event
from tests.helpers import (
    environment,
    eventually,
    headwater,
    http_ok,
    read_topic_until,
    start_group_at_end,
    stop,
)
from tests.sinks.clickhouse.stores import fresh_database

pytestmark = pytest.mark.integration


@dataclass
class Harness:
    """A running sink into a fresh database, and what it takes to run processor workers."""

    kafka: str
    clickhouse: str
    database: str
    data_dir: Path
    env: dict[str, str]

    def worker(self, app_id: str, name: str) -> subprocess.Popen[bytes]:
        """Start a processor worker with its own state folder (as one pod would have)."""
        folder = self.data_dir / name
        folder.mkdir(exist_ok=True)
        env = self.env | {
            "HEADWATER_DATA_DIR": str(folder),
            "HEADWATER_PROCESSORS_APP_ID": app_id,
            "HEADWATER_PROCESSORS_METRICS_PORT": "0",
        }
        return headwater("process", env=env, log=folder / f"process-{uuid.uuid4().hex[:6]}.log")

    def new_group(self) -> str:
        app_id = f"test-processors-{uuid.uuid4().hex[:8]}"
        start_group_at_end(self.kafka, app_id, topics.RAW)
        return app_id

    def query(self, sql: str) -> list[tuple[object, ...]]:
        client = clickhouse_connect.get_client(dsn=self.clickhouse, database=self.database)
        try:
            return list(client.query(sql).result_rows)
        finally:
            client.close()

    def scalar(self, sql: str) -> object:
        return self.query(sql)[0][0]

    def assert_exactly_once_with_the_right_person(self, project: str, distinct: int) -> None:
        counts = (
            "SELECT count(), uniqExact(event_id), (SELECT sum(events) FROM events_daily"
            f" WHERE project_id = '{project}') FROM events WHERE project_id = '{project}'"
        )
        eventually(lambda: self.query(counts)[0][0] >= distinct, timeout=240, what="all events")
        time.sleep(3)  # anything repeated late would show now
        assert self.query(counts)[0] == (distinct, distinct, distinct)
        wrong = self.scalar(
            f"SELECT count() FROM events_resolved WHERE project_id = '{project}'"
            " AND resolved_person_id != concat('u', substring(anonymous_id, 2))"
        )
        assert wrong == 0


@pytest.fixture(scope="module")
def harness(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    data_dir = tmp_path_factory.mktemp("processors")
    database = fresh_database(clickhouse_url)
    group = f"test-processors-sink-{uuid.uuid4().hex[:8]}"
    start_group_at_end(kafka_bootstrap, group, topics.EVENTS)
    env = environment(
        {
            "KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CLICKHOUSE_URL": clickhouse_url,
            "HEADWATER_CLICKHOUSE_DATABASE": database,
            "HEADWATER_SINK_GROUP_ID": group,
            "HEADWATER_SINK_BATCH_MAX_AGE_MS": "200",
            "HEADWATER_DATA_DIR": str(data_dir),
        }
    )
    port = free_port()
    sink = headwater(
        "sink", env=env | {"HEADWATER_SINK_PORT": str(port)}, log=data_dir / "sink.log"
    )
    try:
        eventually(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60, what="sink")
        yield Harness(kafka_bootstrap, clickhouse_url, database, data_dir, env)
    finally:
        stop(sink)


def produce(bootstrap: str, records: list[tuple[str, bytes, bytes | None]]) -> None:
    """Produce (topic, key, value) records in order, as a direct producer would."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            sent = [await producer.send(topic, value, key=key) for topic, key, value in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())


def raw(*events: Event) -> list[tuple[str, bytes, bytes | None]]:
    return [(topics.RAW, event.kafka_key(), encode(event)) for event in events]


def test_duplicates_entries_and_identity(harness: Harness) -> None:
    project = f"p{uuid.uuid4().hex[:8]}"
    entry = Entry(
        project_id=project, embeddable_id="flow", identifier_key="email",
        identifier_value="ann@example.com", entry_id="entry-ann", updated_at=NOW,
    )  # fmt: skip
    day = timedelta(hours=25)

    def event(event_id: str, **fields: object) -> Event:
        return make_event(event_id=event_id, project_id=project, **fields)

    embeddable = {"source_format": "embeddables", "embeddable_id": "flow",
                  "identifier_key": "email", "identifier_value": "ann@example.com"}  # fmt: skip
    records = [
        (topics.ENTRIES, entry.kafka_key(), entry.encode()),
        *raw(
            # an Idempotency-Key retried: one event
            event("k", idempotency_key="key-1"),
            event("k", idempotency_key="key-1"),
            # the source's own id, retried with another Headwater id: one event
            event("s1", source_format="usermaven", source_event_id="um-1"),
            event("s2", source_format="usermaven", source_event_id="um-1"),
            # the same Embeddables body twice: one event, resolved to its entry
            event("f1", **embeddable),
            event("f2", **embeddable, received_at=NOW + timedelta(seconds=3)),
            # an entry that does not exist: a dead letter
            event("missing", **embeddable | {"identifier_value": "nobody@example.com"}),
            # Vemetric carries no timestamp of its own: two identical bodies are two events
            event("v1", source_format="vemetric", name="click"),
            event("v2", source_format="vemetric", name="click"),
            # outside the window an identity is new again; a `life-` key never is
            event("w1", source_format="usermaven", source_event_id="um-2"),
            event("w2", source_format="usermaven", source_event_id="um-2", received_at=NOW + day),
            event("l", idempotency_key="life-3"),
            event("l", idempotency_key="life-3", received_at=NOW + day),
            # an anonymous visitor, identified in the middle
            event("a-before", anonymous_id="anon-1", event_time=NOW - timedelta(minutes=1)),
            event("a-link", anonymous_id="anon-1", user_id="user-1", name="user_identify"),
            event("a-after", anonymous_id="anon-1", event_time=NOW + timedelta(minutes=1)),
        ),
    ]
    app_id = harness.new_group()
    worker = harness.worker(app_id, "identity")
    try:
        produce(harness.kafka, records)
        expected = 11
        count = f"SELECT count() FROM events WHERE project_id = '{project}'"
        eventually(lambda: harness.scalar(count) == expected, timeout=60, what="events")
        missing_key = entry_key(project, "flow", "email", "nobody@example.com")
        letter = read_topic_until(harness.kafka, topics.DEAD_LETTER, lambda r: r.key == missing_key)
    finally:
        assert stop(worker) == 0
    assert orjson.loads(letter.value)["reason"] == "ENTRY_NOT_FOUND"
    rows = dict(
        harness.query(
            "SELECT event_id, resolved_person_id FROM events_resolved"
            f" WHERE project_id = '{project}' ORDER BY event_id"
        )
    )
    assert {k: rows[k] for k in ("a-before", "a-link", "a-after", "f1")} == {
        "a-before": "user-1",
        "a-link": "user-1",
        "a-after": "user-1",
        "f1": "entry-ann",
    }
    ids = [
        r[0] for r in harness.query(f"SELECT event_id FROM events WHERE project_id = '{project}'")
    ]
    assert sorted(ids) == sorted(["k", "s1", "f1", "v1", "v2", "w1", "w2", "l", "a-before",
                                  "a-link", "a-after"])  # fmt: skip
    processed = harness.scalar(
        f"SELECT person_id FROM events WHERE project_id = '{project}' AND event_id = 'a-after'"
    )
    assert processed == "user-1"  # resolved by the processor, not only at query time


def stream(project: str, count: int, visitors: int = 1000) -> tuple[list[Event], int]:
    """`count` raw events of `visitors` anonymous visitors, each identified as `u<n>` once in the
    middle (events before and after it), every tenth record a repeat of an earlier one; and how
    many distinct events that is."""
    identify_round = count // visitors // 2
    formats = ("vemetric", "direct", "usermaven")
    events: list[Event] = []
    for i in range(count):
        if i % 10 == 9:
            events.append(events[i - 5])
            continue
        visitor, round_ = i % visitors, i // visitors
        fmt = formats[i % 3]
        events.append(
            make_event(
                event_id=f"{project}-{i}",
                project_id=project,
                source_format=fmt,
                source_event_id=f"src-{i}" if fmt == "usermaven" else None,
                name="user_identify" if round_ == identify_round else "pageview",
                anonymous_id=f"a{visitor}",
                user_id=f"u{visitor}" if round_ == identify_round else None,
                event_time=NOW + timedelta(milliseconds=i),
            )
        )
    return events, count - count // 10


def produce_in_background(harness: Harness, events: list[Event]) -> threading.Thread:
    thread = threading.Thread(target=produce, args=(harness.kafka, raw(*events)), daemon=True)
    thread.start()
    return thread


def rows(harness: Harness, project: str) -> int:
    return int(harness.scalar(f"SELECT count() FROM events WHERE project_id = '{project}'"))  # type: ignore[call-overload]


@pytest.mark.parametrize("restarted_in", ["killed", "empty"])  # its state folder, or a new one
def test_a_worker_killed_mid_stream_leaves_each_event_once_with_its_person(
    harness: Harness, restarted_in: str
) -> None:
    """Restarted on an empty folder, the worker has its sightings and links from the changelogs
    alone, written a batch at a time (processors/batches.py)."""
    project = f"kill{uuid.uuid4().hex[:8]}"
    events, distinct = stream(project, 50_000)
    app_id = harness.new_group()
    worker = harness.worker(app_id, f"killed-{project}")
    try:
        producer = produce_in_background(harness, events)
        eventually(lambda: rows(harness, project) >= 10_000, timeout=120, what="10,000 events")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = harness.worker(app_id, f"{restarted_in}-{project}")
        producer.join()
        harness.assert_exactly_once_with_the_right_person(project, distinct)
    finally:
        stop(worker)


def test_a_worker_leaving_its_group_hands_over_partitions_and_state(harness: Harness) -> None:
    project = f"pair{uuid.uuid4().hex[:8]}"
    events, distinct = stream(project, 20_000, visitors=400)
    app_id = harness.new_group()
    staying, leaving = harness.worker(app_id, "staying"), harness.worker(app_id, "leaving")
    try:
        producer = produce_in_background(harness, events)
        eventually(lambda: rows(harness, project) >= 5_000, timeout=120, what="5,000 events")
        assert stop(leaving) == 0
        producer.join()
        harness.assert_exactly_once_with_the_right_person(project, distinct)
    finally:
        stop(staying)
        stop(leaving)
