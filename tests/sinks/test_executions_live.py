"""Execution history through the sink, against the real broker and ClickHouse server: steps
produced to `headwater.workflow-history` land in `workflow_steps`, a step the engine reports
again collapses, and `workflow_executions` shows each execution's latest status whatever order
its steps arrive in (tests/sinks/live_sink.py: one group and database per test, a marker last).
"""

import asyncio
import uuid
from pathlib import Path

import pytest

from schemas import topics
from schemas.executions import Step
from sinks.clickhouse.sink import ClickHouseSink
from tests.sinks.live_sink import Record, Sink, eventually, produce, rows
from tests.sinks.workflow_records import step

pytestmark = pytest.mark.integration


def history(*steps: Step) -> list[Record]:
    return [(topics.WORKFLOW_HISTORY, s.execution_id.encode(), s.encode()) for s in steps]


async def landed(store: ClickHouseSink, project: str, execution: str) -> bool:
    where = f"project_id = '{project}' AND execution_id = '{execution}'"
    return bool(await rows(store, f"SELECT 1 FROM workflow_steps WHERE {where}"))


def test_steps_land_a_repeat_collapses_and_each_execution_shows_its_latest_status(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    """`e4`'s `finished` arrives before its `started`; `e1`'s steps are reported again (the
    engine repeating itself after a crash) in a later batch."""
    p = f"wfx{uuid.uuid4().hex[:8]}"
    sink = Sink(kafka_bootstrap, clickhouse_url, tmp_path)
    e1 = [
        step(p, "e1", "started", 0),
        step(p, "e1", "entered", 0, node_id="hook"),
        step(p, "e1", "attempt", 1, node_id="hook", attempt=1, status=500, detail="retry"),
        step(p, "e1", "attempt", 3, node_id="hook", attempt=2, status=200, detail="delivered"),
        step(p, "e1", "succeeded", 3, node_id="hook"),
        step(p, "e1", "finished", 3),
    ]
    others = [
        step(p, "e2", "started", 1),
        step(p, "e2", "waiting", 1, node_id="delay"),
        step(p, "e3", "started", 2),
        step(p, "e3", "stopped", 5, detail="stop event cancelled"),
        step(p, "e4", "finished", 9),
        step(p, "e4", "started", 8),
    ]

    async def run() -> tuple[list[str], list[str], list[str]]:
        await sink.start_group_at_end()
        await produce(kafka_bootstrap, *history(*e1, *others, step(p, "m1", "started", 0)))
        async with sink.running() as store:
            await eventually(lambda: landed(store, p, "m1"), "the first marker's step")
            await produce(kafka_bootstrap, *history(*e1, step(p, "m2", "started", 0)))
            await eventually(lambda: landed(store, p, "m2"), "the second marker's step")
            where = f"WHERE project_id = '{p}' AND execution_id NOT LIKE 'm%'"
            steps = await rows(
                store,
                "SELECT execution_id, node_id, kind, attempt, ifNull(status, 0), detail "
                f"FROM workflow_steps FINAL {where} ORDER BY execution_id, at, step_id",
            )
            executions = await rows(
                store,
                "SELECT execution_id, status, started_at, ifNull(toString(ended_at), '-'), "
                f"updated, version, user_key, person_id FROM workflow_executions FINAL {where} "
                "ORDER BY execution_id",
            )
            statuses = await rows(
                store,
                f"SELECT status, count() FROM workflow_executions FINAL {where} GROUP BY status "
                "ORDER BY status",
            )
            return steps, executions, statuses

    steps, executions, statuses = asyncio.run(run())
    assert len(steps) == len(e1) + len(others)  # e1's six steps once, though sent twice
    assert steps[:6] == [
        "e1\t\tstarted\t0\t0\t",
        "e1\thook\tentered\t0\t0\t",
        "e1\thook\tattempt\t1\t500\tretry",
        "e1\t\tfinished\t0\t0\t",
        "e1\thook\tattempt\t2\t200\tdelivered",
        "e1\thook\tsucceeded\t0\t0\t",
    ]
    assert executions == [
        "e1\tfinished\t2024-05-01 12:00:00.000\t2024-05-01 12:00:03.000\t2024-05-01 12:00:03.000"
        "\t2\tu1\tperson-1",
        "e2\trunning\t2024-05-01 12:00:01.000\t-\t2024-05-01 12:00:01.000\t2\tu1\tperson-1",
        "e3\tstopped\t2024-05-01 12:00:02.000\t2024-05-01 12:00:05.000\t2024-05-01 12:00:05.000"
        "\t2\tu1\tperson-1",
        "e4\tfinished\t2024-05-01 12:00:08.000\t2024-05-01 12:00:09.000\t2024-05-01 12:00:09.000"
        "\t2\tu1\tperson-1",
    ]
    assert statuses == ["running\t1", "finished\t2", "stopped\t1"]
