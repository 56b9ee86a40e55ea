"""A sink as its own process against the real broker and ClickHouse server, and what its fault
tests ask of them: events produced, the group's commits, the rows stored."""

import asyncio
import subprocess
from pathlib import Path

import clickhouse_connect
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from schemas import topics
from schemas.event import encode
from tests.conftest import free_port
from tests.factories import make_event
from tests.helpers import environment, headwater
from tests.kafka import topic_partitions

__all__ = ["committed_everything", "counts", "produce_events", "sink_environment", "start_sink"]


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
