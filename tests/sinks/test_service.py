"""The sink process's HTTP side, in process, on the embedded engine: readiness, and `/sql`, which
`headwater sql` uses while the sink holds the store (answering in the format asked for)."""

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from runtime.settings import HeadwaterSettings, KafkaSettings
from sinks.consumer import SINK_TOPICS
from sinks.service import create_service
from sinks.settings import SinkSettings
from tests.kafka import commit_group_at_end
from tests.sinks.clickhouse.stores import embedded

pytestmark = pytest.mark.integration


def test_the_sink_holding_the_embedded_store_answers_sql_and_readiness(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    group = f"sink-service-{uuid.uuid4().hex[:8]}"
    asyncio.run(commit_group_at_end(kafka_bootstrap, group, *SINK_TOPICS))
    headwater = HeadwaterSettings(data_dir=tmp_path)
    failures: list[BaseException] = []
    app = create_service(
        SinkSettings(group_id=group),
        headwater,
        KafkaSettings(bootstrap=kafka_bootstrap),
        embedded(),
        failures.append,
    )
    query = "SELECT 1 AS one, 'x' AS s"
    with TestClient(app) as client:
        assert orjson.loads(headwater.sink_holder_file.read_bytes())["url"].endswith(":8081")
        table = client.post("/sql", content=query, params={"format": "PrettyCompactMonoBlock"})
        assert table.status_code == 200 and table.text.splitlines()[0].strip() == "┌─one─┬─s─┐"
        named = client.post("/sql", content=f"{query} FORMAT JSONEachRow")
        assert named.text == '{"one":1,"s":"x"}\n'
        assert client.post("/sql", content="SELEC nothing").status_code == 400
        assert client.get("/readyz").status_code == 200
    assert not headwater.sink_holder_file.exists()  # the store is free again
    assert failures == []
