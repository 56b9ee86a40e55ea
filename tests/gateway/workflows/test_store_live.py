"""The gateway's definition store on the real broker: a refused change is repaired at once, and
expired idempotency records are swept; a replica started afterwards sees what compaction would
keep."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from gateway.metrics import GatewayMetrics
from gateway.publisher import RecordPublisher
from gateway.settings import GatewaySettings
from gateway.workflows.store import DefinitionStore
from runtime.definitions import Definitions
from runtime.settings import KafkaSettings
from schemas import topics
from schemas.workflows import Change, definition_key
from tests.kafka import read_to_end


async def _with_store(bootstrap: str, project: str) -> list[bool | int | None]:
    kafka = KafkaSettings(bootstrap=bootstrap)
    publisher = RecordPublisher(kafka, GatewaySettings(), GatewayMetrics())
    now = datetime.now(UTC).replace(microsecond=0)
    async with publisher, DefinitionStore(kafka, publisher, wait_s=10) as store:
        await asyncio.wait_for(_ready(store), 30)
        first = {"id": "w1", "key": "k", "user_key": "main"}
        taken = first | {"id": "w2"}
        await store.write(_key(project, "workflow", "w1"), _put("r1", first, now))
        refused = await store.write(_key(project, "workflow", "w2"), _put("r2", taken, now))
        claim = {"status": 200, "body": "{}", "lease_until": now.isoformat()}
        claim["expires_at"] = (now + timedelta(seconds=1)).isoformat()
        idempotency = _key(project, "idempotency", "/api/v1/trigger k")
        await store.write(idempotency, _put("c1", claim, now))
        swept = await store.sweep(now + timedelta(seconds=2))
        gone = store.state.get(project, "test", "idempotency", "/api/v1/trigger k") is None
    return [refused.accepted, swept, gone]


async def _ready(store: DefinitionStore) -> None:
    while not store.ready:
        await asyncio.sleep(0.05)


def _key(project: str, kind: str, name: str) -> bytes:
    return definition_key(project, "test", kind, name)  # type: ignore[arg-type]


def _put(request: str, obj: dict[str, object], at: datetime) -> Change:
    return Change(op="put", request_id=request, at=at, object=obj)


def test_refusals_are_repaired_and_expired_keys_swept(kafka_bootstrap: str) -> None:
    project = f"store-{uuid.uuid4().hex}"
    refused_accepted, swept, gone = asyncio.run(_with_store(kafka_bootstrap, project))
    assert (refused_accepted, swept, gone) == (False, 1, True)
    records = asyncio.run(read_to_end(kafka_bootstrap, topics.WORKFLOWS))
    ours = [(r.key, r.value) for r in records if project.encode() in (r.key or b"")]
    last = dict(ours)
    assert last[_key(project, "workflow", "w2")] is None  # the refused create, repaired
    assert last[_key(project, "idempotency", "/api/v1/trigger k")] is None  # swept
    replayed = Definitions()  # what a process started now rebuilds
    for key, value in ours:
        assert key is not None
        replayed.apply(key, value)
    assert replayed.unrepaired == {}
    assert replayed.workflow_id(project, "test", "main", "k") == "w1"
