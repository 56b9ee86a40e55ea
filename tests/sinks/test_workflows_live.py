"""Workflow history through the sink, against the real broker and ClickHouse server: changes
produced to the shared `headwater.workflows` (decided by the sink's replica, replayed from the
topic's beginning), and commands to `headwater.workflow-commands` (tests/sinks/live_sink.py: one
group and database per test, a marker record last).
"""

import asyncio
import uuid
from pathlib import Path

import pytest

from schemas import topics
from schemas.workflows import Change, Start, definition_key
from sinks.clickhouse.sink import ClickHouseSink
from tests.sinks.live_sink import Record, Sink, eventually, produce, rows
from tests.sinks.workflow_records import AT, command, delete, put, workflow

pytestmark = pytest.mark.integration


def change(key: bytes, value: bytes) -> Record:
    return topics.WORKFLOWS, key, value


def versions_sql(project: str, final: str = "") -> str:
    return (
        f"SELECT workflow_id, request_id, ifNull(base, '-'), deleted, name FROM workflow_versions "
        f"{final} WHERE project_id = '{project}' ORDER BY workflow_id, request_id"
    )


async def marked(store: ClickHouseSink, project: str, workflow_id: str) -> bool:
    sql = f"SELECT 1 FROM workflow_versions WHERE project_id = '{project}' AND workflow_id = "
    return bool(await rows(store, f"{sql}'{workflow_id}'"))


def test_accepted_changes_become_versions_and_refused_ones_do_not(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    """`early` was written before the group's commit: it is not written again, but the replica
    replays it, so a second workflow cannot take its key."""
    p = f"wfv{uuid.uuid4().hex[:8]}"
    sink = Sink(kafka_bootstrap, clickhouse_url, tmp_path)
    user = Change(op="put", request_id="ru", at=AT, object={"key": "u1"})
    w1 = workflow("w1")

    async def run() -> list[str]:
        await produce(kafka_bootstrap, change(*put(p, workflow("w0", key="early"), "r0")))
        await sink.start_group_at_end()
        await produce(
            kafka_bootstrap,
            change(*put(p, w1, "r1")),
            change(*put(p, w1 | {"name": "Renamed"}, "r2", base="r1")),
            change(*put(p, workflow("w2"), "r3")),  # w1's key: taken
            change(*put(p, workflow("w3", key="early"), "r4")),  # w0's key: taken
            change(*put(p, w1, "r5")),  # w1 created again: exists
            change(*delete(p, "w1", "r6", base="r2")),
            change(definition_key(p, "test", "user", "u1"), user.encode()),
            change(*put(p, workflow("w9", key="marker"), "r9")),
        )
        async with sink.running() as store:
            await eventually(lambda: marked(store, p, "w9"), "the marker's version")
            return await rows(store, versions_sql(p))

    assert asyncio.run(run()) == [
        "w1\tr1\t-\t0\tOnboarding",
        "w1\tr2\tr1\t0\tRenamed",
        "w1\tr6\tr2\t1\tRenamed",
        "w9\tr9\t-\t0\tOnboarding",
    ]


def test_a_restarted_sink_writes_each_version_once_and_still_decides_from_the_whole_topic(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    p = f"wfr{uuid.uuid4().hex[:8]}"
    sink = Sink(kafka_bootstrap, clickhouse_url, tmp_path)
    w1 = workflow("w1")

    async def run() -> list[str]:
        await sink.start_group_at_end()
        await produce(kafka_bootstrap, change(*put(p, w1, "r1")))
        async with sink.running() as store:
            await eventually(lambda: marked(store, p, "w1"), "the first version")
        await produce(
            kafka_bootstrap,
            change(*put(p, workflow("w2"), "r2")),  # w1's key, known only from before
            change(*put(p, w1 | {"template_status": "published", "version": 1}, "r3", "r1")),
            change(*put(p, workflow("w9", key="marker"), "r9")),
        )
        async with sink.running() as store:
            await eventually(lambda: marked(store, p, "w9"), "the marker's version")
            return await rows(store, versions_sql(p))  # without FINAL: each row once

    assert asyncio.run(run()) == [
        "w1\tr1\t-\t0\tOnboarding",
        "w1\tr3\tr1\t0\tOnboarding",
        "w9\tr9\t-\t0\tOnboarding",
    ]


def test_commands_land_and_a_command_produced_twice_is_stored_once(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    p = f"wfc{uuid.uuid4().hex[:8]}"
    sink = Sink(kafka_bootstrap, clickhouse_url, tmp_path)
    sent = [
        command(p, "c1", all_workflows=True, execution_data={"plan": "pro"}),
        command(p, "c2", type="execute", event=None, workflow_ids=["w1"], workflow_version=2),
        command(p, "c3", type="stop", event=None, stop_event="cancelled", filters={"a": 1}),
        command(p, "c4", type="event", workflow_ids=["w3"], starts=[
            Start(workflow_id="w1", version=2, user_key="u1", template={}),
            Start(workflow_id="w2", version=1, user_key="u1", template={}),
        ]),
    ]  # fmt: skip
    marker = command(p, "c9")
    records = [(topics.WORKFLOW_COMMANDS, c.kafka_key(), c.encode()) for c in [*sent, *sent]]
    sql = (
        "SELECT type, request_id, ifNull(event, '-'), all_workflows, workflow_ids, starts, "
        "ifNull(workflow_version, 0), ifNull(stop_event, '-'), execution_data, filters "
        f"FROM workflow_commands FINAL WHERE project_id = '{p}' AND request_id != 'c9' "
        "ORDER BY request_id"
    )

    async def landed(store: ClickHouseSink) -> bool:
        where = f"project_id = '{p}' AND request_id = 'c9'"
        return bool(await rows(store, f"SELECT 1 FROM workflow_commands WHERE {where}"))

    async def run() -> list[str]:
        await sink.start_group_at_end()
        await produce(kafka_bootstrap, *records, (topics.WORKFLOW_COMMANDS, marker.kafka_key(),
                                                  marker.encode()))  # fmt: skip
        async with sink.running() as store:
            await eventually(lambda: landed(store), "the marker command")
            return await rows(store, sql)

    assert asyncio.run(run()) == [
        'trigger\tc1\tsigned_up\t1\t[]\t[]\t0\t-\t{"plan":"pro"}\t{}',
        "execute\tc2\t-\t0\t['w1']\t[]\t2\t-\t{}\t{}",
        'stop\tc3\t-\t0\t[]\t[]\t0\tcancelled\t{}\t{"a":1}',
        "event\tc4\tsigned_up\t0\t['w3']\t['w1:2','w2:1']\t0\t-\t{}\t{}",
    ]
