"""Direct producers with real Kafka clients, through the session's pipeline (gateway, processors,
sink) on the real broker and ClickHouse: whichever partitioner a producer uses, the results are
the same.

Three producers, each on its own project, send the same records:
- (a) confluent-kafka with its defaults: librdkafka's `consistent_random` partitioner (CRC32 of
  the key, not Headwater's murmur2), keys as the README says (`Event.kafka_key()`, `entry_key`);
- (b) confluent-kafka with no key on the raw topic (each record on a partition at random), and
  its entries keyed by their entry id rather than `entry_key` (the topic is compacted: keys are
  required);
- (c) aiokafka with Headwater's rule (murmur2) and the right keys: nothing to move.

Each produces Embeddables entries, events naming them (half through the gateway's HTTP API right
after the entries, answered 200 once the gateway sees the entry where the processors look; half
produced directly), identify records and the events of those anonymous ids, and events sent twice
with the same `event_id`. A producer without keys keeps no order between records, so the
visitors' events go out once their identify records are stored.
"""

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import clickhouse_connect
import httpx2
import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import KafkaError, Message, Producer
from prometheus_client.parser import text_string_to_metric_families

from headwater.keys import create_key
from runtime.partitioning import rule_partition
from runtime.settings import HeadwaterSettings
from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, encode
from tests.factories import NOW, make_event
from tests.helpers import eventually
from tests.kafka import read_to_end, topic_partitions
from tests.pipeline import Pipeline

pytestmark = pytest.mark.integration

Record = tuple[str, bytes | None, bytes]  # topic, key, value
EMBEDDABLE = "flow"
THROUGH_GATEWAY, DIRECT = range(4), range(4, 8)  # the entries events name, by how they are sent
VISITORS, REPEATS = 4, 5
DISTINCT = len(THROUGH_GATEWAY) + len(DIRECT) + VISITORS * 3 + REPEATS


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


def entry(project: str, n: int) -> Entry:
    return Entry(
        project_id=project, embeddable_id=EMBEDDABLE, identifier_key="email",
        identifier_value=f"e{n}@example.com", entry_id=f"entry-{n}", updated_at=NOW,
    )  # fmt: skip


def event(**fields: object) -> Event:
    """An event received now: the pipeline's worker also handles other tests' events, received
    now, and sweeps the dedupe sightings of events received a window before them."""
    return make_event(received_at=datetime.now(UTC), **fields)


def raw(*events: Event) -> list[Record]:
    return [(topics.RAW, event.kafka_key(), encode(event)) for event in events]


def first_records(project: str, odd_entry_keys: bool) -> list[Record]:
    """Entries, events naming some of them, and identify records, in that order."""
    entries = [entry(project, n) for n in (*THROUGH_GATEWAY, *DIRECT)]
    named = [
        event(
            event_id=f"form-{n}",
            project_id=project,
            name="form_submitted",
            embeddable_id=EMBEDDABLE,
            identifier_key="email",
            identifier_value=f"e{n}@example.com",
        )
        for n in DIRECT
    ]
    identify = [
        event(
            event_id=f"identify-{v}",
            project_id=project,
            name="user_identify",
            anonymous_id=f"anon-{v}",
            user_id=f"user-{v}",
        )
        for v in range(VISITORS)
    ]
    keyed = [
        (topics.ENTRIES, f"{project}/{e.entry_id}".encode() if odd_entry_keys else e.kafka_key(),
         e.encode())
        for e in entries
    ]  # fmt: skip
    return [*keyed, *raw(*named, *identify)]


def later_records(project: str) -> list[Record]:
    """Visits of the identified anonymous ids, and events sent twice with the same event_id."""
    visits = [
        event(
            event_id=f"visit-{v}-{i}",
            project_id=project,
            name="pageview",
            anonymous_id=f"anon-{v}",
            event_time=NOW + timedelta(seconds=1 + i),
        )
        for v in range(VISITORS)
        for i in range(2)
    ]
    repeats = [
        event(event_id=f"repeat-{r}", project_id=project, name="purchase", user_id=f"buyer-{r}")
        for r in range(REPEATS)
    ]
    return raw(*visits, *repeats, *repeats)


def expected_people() -> list[tuple[str, str]]:
    """(name, person_id) of every distinct event, in the order `people` reads them."""
    rows = [("embeddables_event", f"entry-{n}") for n in THROUGH_GATEWAY]
    rows += [("form_submitted", f"entry-{n}") for n in DIRECT]
    rows += [("user_identify", f"user-{v}") for v in range(VISITORS)]
    rows += [("pageview", f"user-{v}") for v in range(VISITORS) for _ in range(2)]
    rows += [("purchase", f"buyer-{r}") for r in range(REPEATS)]
    return sorted(rows)


class Warehouse:
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


def post_until_found(pipeline: Pipeline, project: str, key: str, n: int) -> int:
    """An Embeddables event naming entry `n` through the gateway, sent again while the answer is
    404 ENTRY_NOT_FOUND (the entry not yet where the processors look); how many 404s came."""
    body = {
        "embeddable_id": EMBEDDABLE, "timestamp": "2026-03-04T12:00:00.000Z",
        "custom_event_name": f"gateway_{n}",
        "identifiers": [{"key": "email", "value": f'"e{n}@example.com"'}],
    }  # fmt: skip
    headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    misses, deadline = 0, time.monotonic() + 60  # the processors may still be starting
    while True:
        answer = httpx2.post(f"{pipeline.gateway}/projects/{project}/events", json=body,
                             headers=headers)  # fmt: skip
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return misses
        assert answer.status_code in (401, 404), answer.text  # 401: the new key not loaded yet
        misses += answer.status_code == 404
        time.sleep(0.05)


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


def test_every_producer_gets_the_same_results_whatever_its_partitioner(
    pipeline: Pipeline, kafka_bootstrap: str, clickhouse_url: str
) -> None:
    marker = uuid.uuid4().hex[:8]
    a, b, c = (f"{name}-{marker}" for name in ("crc32", "unkeyed", "murmur2"))
    producers = {
        a: confluent(kafka_bootstrap, "producer-a", keyed_raw=True),
        b: confluent(kafka_bootstrap, "producer-b", keyed_raw=False),
        c: aiokafka(kafka_bootstrap, "producer-c"),
    }
    projects_file = HeadwaterSettings(data_dir=pipeline.data_dir).projects_path
    keys = {project: create_key(projects_file, project, "embeddables") for project in producers}
    warehouse = Warehouse(clickhouse_url)
    for project, send in producers.items():
        send(first_records(project, odd_entry_keys=project == b))
    misses = {
        project: sum(post_until_found(pipeline, project, keys[project], n) for n in THROUGH_GATEWAY)
        for project in producers
    }
    for project, send in producers.items():
        warehouse.wait(project, "user_id != ''", VISITORS)  # the links, before their visits
        send(later_records(project))
    for project in producers:
        warehouse.wait(project, "1", DISTINCT)
    time.sleep(3)  # anything repeated late would show now
    print(f"gateway answers 404 before the entry's copy landed: {misses}")
    for project in producers:
        assert warehouse.counts(project) == (DISTINCT, DISTINCT, DISTINCT)
        assert warehouse.people(project) == expected_people()
    assert letters_naming(kafka_bootstrap, list(producers)) == []
    moved = rerouted(pipeline)
    assert moved.get((topics.RAW, "producer-a"), 0) > 0
    assert moved.get((topics.ENTRIES, "unknown"), 0) > 0  # producer (b)'s entries, re-keyed
    assert moved.get((topics.RAW, "producer-c"), 0) == 0  # on the rule: no extra hop


BURST = 2_000


def burst(project: str, partitions: int) -> tuple[list[tuple[int, bytes, bytes]], int]:
    """`BURST` raw records, each on a partition the rule does not give it, every tenth a repeat
    of an earlier one (same bytes); and how many distinct events that is."""
    records: list[tuple[int, bytes, bytes]] = []
    for i in range(BURST):
        if i % 10 == 9:
            records.append(records[i - 5])
            continue
        visit = event(
            event_id=f"{project}-{i}", project_id=project, anonymous_id=f"a{i % 100}",
            event_time=NOW + timedelta(milliseconds=i),
        )  # fmt: skip
        home = rule_partition(visit.kafka_key(), partitions)
        records.append(((home + 1) % partitions, visit.kafka_key(), encode(visit)))
    return records, BURST - BURST // 10


def produce_paced(bootstrap: str, records: list[tuple[int, bytes, bytes]]) -> None:
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


def test_a_worker_killed_while_moving_a_burst_leaves_each_event_once(
    pipeline: Pipeline, kafka_bootstrap: str, clickhouse_url: str
) -> None:
    project = f"moved-{uuid.uuid4().hex[:8]}"
    partitions = len(asyncio.run(topic_partitions(kafka_bootstrap, topics.RAW)))
    records, distinct = burst(project, partitions)
    before = rerouted(pipeline).get((topics.RAW, "direct"), 0)
    producer = threading.Thread(target=produce_paced, args=(kafka_bootstrap, records), daemon=True)
    producer.start()
    moved = lambda: rerouted(pipeline).get((topics.RAW, "direct"), 0) - before  # noqa: E731
    eventually(lambda: moved() >= BURST // 3, timeout=60, what="a third of the burst moved")
    pipeline.kill("process")
    pipeline.start("process")
    producer.join()
    warehouse = Warehouse(clickhouse_url)
    warehouse.wait(project, "1", distinct, timeout=240)
    time.sleep(3)  # anything repeated late would show now
    assert warehouse.counts(project) == (distinct, distinct, distinct)
    assert letters_naming(kafka_bootstrap, [project]) == []
