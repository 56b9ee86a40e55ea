"""The sink's consumer and checkpoint against real Kafka and a real ClickHouse HTTP server,
through faults: killed between insert and commit, and ClickHouse down for 30 s under a steady
stream, and a group of ranges left pending and split between two members of the sink's group.
Each event is stored exactly once: counted without FINAL, and in the roll-ups."""

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import clickhouse_connect
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from headwater.stack import Stack
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from schemas import topics
from schemas.event import encode
from sinks.consumer import SINK_TOPICS
from sinks.offsets import CommitMetadata, GroupMember
from tests.conftest import free_port
from tests.factories import make_event
from tests.helpers import (
    environment,
    eventually,
    headwater,
    http_ok,
    start_group_at_end,
    stop,
)
from tests.kafka import topic_partitions
from tests.sinks.clickhouse.stores import fresh_database

pytestmark = pytest.mark.integration


def produce_events(bootstrap: str, project: str, first: int, count: int, padding: int = 0) -> None:
    """Events `first`..`first + count - 1` of `project`, each with `padding` bytes of properties."""
    properties = {"padding": "x" * padding} if padding else {}

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            deliveries = []
            for n in range(first, first + count):
                event = make_event(
                    event_id=f"{project}-{n}",
                    project_id=project,
                    user_id=f"u{n % 7}",
                    properties=properties,
                )
                deliveries.append(
                    await producer.send(topics.EVENTS, encode(event), key=event.kafka_key())
                )
            await asyncio.gather(*deliveries)
        finally:
            await producer.stop()

    asyncio.run(send())


def committed_everything(bootstrap: str, group: str) -> bool:
    """The group has committed up to the end of every partition of the events topic."""

    async def check() -> bool:
        partitions = await topic_partitions(bootstrap, topics.EVENTS)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        finally:
            await admin.close()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()
        return all(
            tp in committed and max(committed[tp].offset, 0) >= end for tp, end in ends.items()
        )

    return asyncio.run(check())


def counts(url: str, database: str, project: str) -> tuple[int, int]:
    """(rows in `events`, events in the daily roll-up) of a project, without FINAL."""
    client = clickhouse_connect.get_client(dsn=url, database=database)
    try:
        rows = client.query(f"SELECT count() FROM events WHERE project_id = '{project}'")
        daily = client.query(f"SELECT sum(events) FROM events_daily WHERE project_id = '{project}'")
        return int(rows.result_rows[0][0]), int(daily.result_rows[0][0])
    except Exception:  # ClickHouse down or the database not there yet
        return -1, -1
    finally:
        client.close()


def sink_environment(
    data_dir: Path, kafka: str, clickhouse: str, database: str, group: str
) -> dict[str, str]:
    return environment(
        {
            "HEADWATER_DATA_DIR": str(data_dir),
            "KAFKA_BOOTSTRAP": kafka,
            "CLICKHOUSE_URL": clickhouse,
            "HEADWATER_CLICKHOUSE_DATABASE": database,
            "HEADWATER_SINK_GROUP_ID": group,
            "HEADWATER_SINK_BATCH_MAX_AGE_MS": "200",
            "HEADWATER_SINK_RETRY_BACKOFF_MS": "200",
        }
    )


def start_sink(
    data_dir: Path, env: dict[str, str], name: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = headwater(
        "sink", env=env | {"HEADWATER_SINK_PORT": str(port)}, log=data_dir / f"{name}.log"
    )
    return process, f"http://127.0.0.1:{port}"


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


async def leave_group_pending(
    bootstrap: str, group: str, ends: dict[TopicPartition, int]
) -> tuple[dict[TopicPartition, int], list[str]]:
    """Commit, for events partitions 0 and 1, what a sink killed before writing them as one group
    leaves: each offset where it was, naming the group of both ranges (to their `ends`); return
    those offsets and the event ids in the two ranges."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        pair = [TopicPartition(topics.EVENTS, p) for p in (0, 1)]
        reader.assign(pair)
        starts = {tp: await reader.committed(tp) or 0 for tp in pair}
        members = tuple(GroupMember(tp.partition, starts[tp], ends[tp] - 1, {}) for tp in pair)
        await reader.commit(
            {
                tp: OffsetAndMetadata(
                    starts[tp], CommitMetadata({}, (starts[tp], ends[tp] - 1), members).encode()
                )
                for tp in pair
            }
        )
        ids = []
        for tp in pair:
            reader.seek(tp, starts[tp])
            while await reader.position(tp) < ends[tp]:
                for record in (await reader.getmany(tp, timeout_ms=1000)).get(tp, []):
                    ids.append(orjson.loads(record.value)["event_id"])
        return starts, ids
    finally:
        await reader.stop()


def test_a_pending_group_split_between_two_members_is_written_whole_and_once(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    """A sink killed between naming a group (events partitions 0 and 1) and writing it; the group
    is then split: the restarted sink shares its consumer group with a member that owns one of
    the two partitions and writes nothing. The sink still writes the whole group, reading the
    other member's range from Kafka by offset, and commits only its own partition; once that
    member leaves, the sink writes the group again for the partition it takes over, and
    ClickHouse drops the repeat."""
    project, group, total = f"split{uuid.uuid4().hex[:6]}", f"sink-split-{uuid.uuid4().hex}", 400
    database = fresh_database(clickhouse_url)
    env = sink_environment(tmp_path, kafka_bootstrap, clickhouse_url, database, group)
    start_group_at_end(kafka_bootstrap, group, topics.EVENTS)
    produce_events(kafka_bootstrap, project, 0, total)

    def stored(ids: list[str]) -> int:
        client = clickhouse_connect.get_client(dsn=clickhouse_url, database=database)
        try:
            query = "SELECT count() FROM events WHERE event_id IN {ids:Array(String)}"
            return int(client.query(query, parameters={"ids": ids}).result_rows[0][0])
        finally:
            client.close()

    async def scenario() -> None:
        partitions = await topic_partitions(kafka_bootstrap, topics.EVENTS)
        probe = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
        await probe.start()
        try:
            ends = await probe.end_offsets(partitions)
        finally:
            await probe.stop()
        starts, in_group = await leave_group_pending(kafka_bootstrap, group, ends)
        other = AIOKafkaConsumer(
            *SINK_TOPICS,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            client_id="a-member-that-writes-nothing",
        )
        await other.start()
        polling = asyncio.create_task(poll_forever(other))
        sink = None
        try:
            await wait_for(lambda: bool(other.assignment()), "the other member joined")
            sink, _ = start_sink(tmp_path, env, "sink")
            # round robin deals consecutive partitions of a topic to different members
            pair = {TopicPartition(topics.EVENTS, p) for p in (0, 1)}
            await wait_for(lambda: len(other.assignment() & pair) == 1, "the group split")
            await wait_for(lambda: stored(in_group) == len(in_group), "the whole group written")
            [theirs] = other.assignment() & pair
            assert await other.committed(theirs) == starts[theirs]  # still theirs, still pending
        finally:
            polling.cancel()
            await other.stop()
        try:
            await asyncio.to_thread(
                eventually,
                lambda: committed_everything(kafka_bootstrap, group),
                timeout=60,
                what="caught up",
            )
            assert counts(clickhouse_url, database, project) == (total, total)
        finally:
            if sink is not None:
                stop(sink)

    asyncio.run(scenario())


async def poll_forever(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=200)


async def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(check):
            await asyncio.sleep(0.2)
