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
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from headwater.keys import create_key
from runtime.partitioning import rule_partition
from runtime.settings import HeadwaterSettings
from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, encode
from tests.factories import NOW, make_event
from tests.helpers import eventually
from tests.kafka import topic_partitions
from tests.pipeline import Pipeline
from tests.processors.direct_clients import (
    Record,
    Warehouse,
    aiokafka,
    confluent,
    letters_naming,
    produce_to_partitions,
    rerouted,
)

pytestmark = pytest.mark.integration

EMBEDDABLE = "flow"
THROUGH_GATEWAY, DIRECT = range(4), range(4, 8)  # the entries events name, by how they are sent
VISITORS, REPEATS = 4, 5
DISTINCT = len(THROUGH_GATEWAY) + len(DIRECT) + VISITORS * 3 + REPEATS


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


def test_a_worker_killed_while_moving_a_burst_leaves_each_event_once(
    pipeline: Pipeline, kafka_bootstrap: str, clickhouse_url: str
) -> None:
    project = f"moved-{uuid.uuid4().hex[:8]}"
    partitions = len(asyncio.run(topic_partitions(kafka_bootstrap, topics.RAW)))
    records, distinct = burst(project, partitions)
    before = rerouted(pipeline).get((topics.RAW, "direct"), 0)
    producer = threading.Thread(
        target=produce_to_partitions, args=(kafka_bootstrap, records), daemon=True
    )
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
