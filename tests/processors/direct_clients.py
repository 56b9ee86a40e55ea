"""The direct producers of tests/processors/test_direct_producers_live.py, real Kafka clients
each with its own partitioner, and what the test reads back: ClickHouse rows, the processors'
re-routing counter, dead letters."""

import asyncio
from collections.abc import Callable

import clickhouse_connect
import httpx2
from aiokafka import AIOKafkaProducer
from confluent_kafka import KafkaError, Message, Producer
from prometheus_client.parser import text_string_to_metric_families

from schemas import topics
from tests.helpers import eventually
from tests.kafka import read_to_end
from tests.pipeline import Pipeline

__all__ = [
    "Record",
    "Warehouse",
    "aiokafka",
    "confluent",
    "letters_naming",
    "produce_to_partitions",
    "rerouted",
]

Record = tuple[str, bytes | None, bytes]  # topic, key, value


def confluent(bootstrap: str, client: str, keyed_raw: bool) -> Callable[[list[Record]], None]:
    """confluent-kafka as its docs show it, partitioner left at its default; keyed, it names
    itself in a `client-id` header as the README suggests, unkeyed it does not."""

    def send(records: list[Record]) -> None:
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _: Message) -> None:
            if error is not None:
                failures.append(error)

        producer = Producer({"bootstrap.servers": bootstrap, "client.id": client, "acks": "all"})
        for topic, key, value in records:
            unkeyed = topic == topics.RAW and not keyed_raw
            producer.produce(
                topic, value, key=None if unkeyed else key, on_delivery=delivered,
                headers=[(topics.CLIENT_HEADER, client.encode())] if keyed_raw else None,
            )  # fmt: skip
        assert producer.flush(30) == 0 and failures == []

    return send


def aiokafka(bootstrap: str, client: str) -> Callable[[list[Record]], None]:
    """aiokafka's default partitioner: murmur2, Headwater's rule."""

    async def produce(records: list[Record]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id=client)
        await producer.start()
        try:
            header = [(topics.CLIENT_HEADER, client.encode())]
            sent = [await producer.send(t, v, key=k, headers=header) for t, k, v in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    return lambda records: asyncio.run(produce(records))


def produce_to_partitions(bootstrap: str, records: list[tuple[int, bytes, bytes]]) -> None:
    """(partition, key, value) records in batches of 100 every 0.1 s, so the worker is moving
    records when it is killed."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for first in range(0, len(records), 100):
                batch = records[first : first + 100]
                sent = [await producer.send(topics.RAW, v, key=k, partition=p) for p, k, v in batch]
                await asyncio.gather(*sent)
                await asyncio.sleep(0.1)
        finally:
            await producer.stop()

    asyncio.run(send())


class Warehouse:
    """The session's ClickHouse, one project's events at a time."""

    def __init__(self, url: str) -> None:
        self._client = clickhouse_connect.get_client(dsn=url)

    def scalar(self, sql: str, project: str) -> int:
        return int(self._client.query(sql, parameters={"p": project}).result_rows[0][0])

    def rows(self, project: str, where: str = "1") -> int:
        sql = f"SELECT count() FROM events WHERE project_id = {{p:String}} AND {where}"
        return self.scalar(sql, project)

    def wait(self, project: str, where: str, count: int, timeout: float = 60) -> None:
        """Until the project has at least `count` events matching `where`."""
        eventually(lambda: self.rows(project, where) >= count, timeout, f"{project}: {where}")

    def counts(self, project: str) -> tuple[int, int, int]:
        sql = (
            "SELECT count(), uniqExact(event_id), (SELECT sum(events) FROM events_daily"
            " WHERE project_id = {p:String}) FROM events WHERE project_id = {p:String}"
        )
        found = self._client.query(sql, parameters={"p": project}).result_rows[0]
        return int(found[0]), int(found[1]), int(found[2])

    def people(self, project: str) -> list[tuple[str, str]]:
        sql = (
            "SELECT if(source_format = 'embeddables', 'embeddables_event', name), person_id"
            " FROM events WHERE project_id = {p:String} ORDER BY 1, 2"
        )
        return [tuple(r) for r in self._client.query(sql, parameters={"p": project}).result_rows]  # type: ignore[misc]


def rerouted(pipeline: Pipeline) -> dict[tuple[str, str], float]:
    """headwater_records_rerouted_total by (topic, client), from the processors' /metrics."""
    text = httpx2.get(f"{pipeline.processors}/metrics").text
    return {
        (sample.labels["topic"], sample.labels["client"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "headwater_records_rerouted"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def letters_naming(kafka: str, projects: list[str]) -> list[bytes]:
    letters = asyncio.run(read_to_end(kafka, topics.DEAD_LETTER))
    return [r.value for r in letters if r.value and any(p.encode() in r.value for p in projects)]
