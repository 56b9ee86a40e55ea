"""`executions_count` and `stats` on the workflow object, from the engine's counters on the real
`headwater.workflow-stats` topic, through the real gateway processes: each partition's latest
record counts, summed over partitions; a later record of a partition replaces its earlier one, a
tombstone forgets it, and a record that is not a count leaves the previous one in place."""

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from schemas import topics
from tests.gateway.workflows.conftest import WorkflowGateways
from tests.gateway.workflows.test_api_live import TEMPLATE, create, page, user
from tests.helpers import eventually
from tests.kafka import topic_partitions


def wait_node(entered: int, waiting: int) -> dict[str, Any]:
    """`stats` of TEMPLATE's Delay node `wait` (its `start` has no counts)."""
    counts = {"entered": entered, "succeeded": entered - waiting, "failed": 0, "waiting": waiting}
    return {"wait": counts}


def record(entered: int, waiting: int) -> bytes:
    """A partition's count: `entered` executions, all of which entered `wait`."""
    return orjson.dumps({"executions_count": entered, "nodes": wait_node(entered, waiting)})


def produce(bootstrap: str, key: str, *values: tuple[int, bytes | None]) -> None:
    """(partition, value) records of one workflow, in order."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for partition, value in values:
                await producer.send_and_wait(
                    topics.WORKFLOW_STATS, value, key=key.encode(), partition=partition
                )
        finally:
            await producer.stop()

    asyncio.run(send())


def shown(gateways: WorkflowGateways, workflow_id: str) -> list[tuple[int, dict[str, Any]]]:
    """(executions_count, stats) as each gateway process answers."""
    answers = []
    for process in (0, 1):
        with gateways.client(process=process) as client:
            answer = client.get(f"/workflows/{workflow_id}").json()
        answers.append((answer["executions_count"], answer["stats"]))
    return answers


def wait_until_shown(
    gateways: WorkflowGateways, workflow_id: str, expected: tuple[int, dict[str, Any]]
) -> None:
    eventually(
        lambda: shown(gateways, workflow_id) == [expected, expected],
        timeout=15,
        what=f"{expected} on both processes (last: {shown(gateways, workflow_id)})",
    )


def test_figures_are_each_partitions_latest_record_summed(
    workflow_gateways: WorkflowGateways,
) -> None:
    bootstrap, owner = workflow_gateways.kafka, user()
    assert len(asyncio.run(topic_partitions(bootstrap, topics.WORKFLOW_STATS))) >= 2
    with workflow_gateways.client() as client:
        workflow_id = create(client, owner, template=TEMPLATE)["id"]
    assert shown(workflow_gateways, workflow_id)[0] == (0, {})  # never ran

    produce(bootstrap, workflow_id, (0, record(1, 1)), (1, record(2, 2)), (0, record(3, 1)))
    wait_until_shown(workflow_gateways, workflow_id, (5, wait_node(5, 3)))
    with workflow_gateways.client() as client:
        [item] = page(client, owner)["collection"]
    assert item["executions_count"] == 5 and "stats" not in item

    produce(bootstrap, workflow_id, (1, b"not a count"), (0, record(4, 0)))
    wait_until_shown(workflow_gateways, workflow_id, (6, wait_node(6, 2)))

    produce(bootstrap, workflow_id, (1, None))  # partition 1 forgets the workflow
    wait_until_shown(workflow_gateways, workflow_id, (4, wait_node(4, 0)))
