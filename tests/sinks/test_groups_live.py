"""A group of ranges (events partitions written as one insert) left pending and split between
two members of the sink's consumer group, against real Kafka and a real ClickHouse HTTP server:
each event is stored exactly once, counted without FINAL and in the roll-ups."""

import asyncio
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import clickhouse_connect
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from schemas import topics
from sinks.consumer import SINK_TOPICS
from sinks.offsets import CommitMetadata, GroupMember
from tests.helpers import eventually, start_group_at_end, stop
from tests.kafka import topic_partitions
from tests.sinks.clickhouse.stores import fresh_database
from tests.sinks.sink_process import (
    committed_everything,
    counts,
    produce_events,
    sink_environment,
    start_sink,
)

pytestmark = pytest.mark.integration


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
        try:
            await wait_for(lambda: bool(other.assignment()), "the other member joined")
            sinks.append(start_sink(tmp_path, env, "sink")[0])
            # round robin deals consecutive partitions of a topic to different members
            pair = {TopicPartition(topics.EVENTS, p) for p in (0, 1)}
            await wait_for(lambda: len(other.assignment() & pair) == 1, "the group split")
            await wait_for(lambda: stored(in_group) == len(in_group), "the whole group written")
            [theirs] = other.assignment() & pair
            assert await other.committed(theirs) == starts[theirs]  # still theirs, still pending
        finally:
            polling.cancel()
            await other.stop()
        await asyncio.to_thread(
            eventually,
            lambda: committed_everything(kafka_bootstrap, group),
            timeout=60,
            what="caught up",
        )
        assert counts(clickhouse_url, database, project) == (total, total)

    sinks: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(scenario())
    finally:
        for sink in sinks:
            stop(sink)


async def poll_forever(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=200)


async def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(check):
            await asyncio.sleep(0.2)
