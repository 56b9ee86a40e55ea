"""`Idempotency-Key` on the workflow API's POSTs, against the real broker and two gateway
processes: the first answer is every answer, from any process and from one started later."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx2

from schemas import topics
from tests.gateway.conftest import start_gateway
from tests.gateway.workflows.conftest import WorkflowGateways
from tests.helpers import stop
from tests.kafka import read_to_end


def key() -> str:
    return f"k-{uuid.uuid4().hex}"


def test_a_retry_gets_the_first_answer_from_either_process(
    workflow_gateways: WorkflowGateways,
) -> None:
    headers = {"Idempotency-Key": key()}
    body = {"name": "Once", "user_key": f"u-{uuid.uuid4().hex}"}
    with workflow_gateways.client(process=0) as here, workflow_gateways.client(process=1) as there:
        first = here.post("/workflows", json=body, headers=headers)
        again = there.post("/workflows", json=body, headers=headers)
        listed = here.get("/workflows", params={"user_key": body["user_key"]}).json()
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(listed["collection"]) == 1  # the work was done once


def test_the_same_key_with_another_body_is_refused_naming_the_key(
    workflow_gateways: WorkflowGateways,
) -> None:
    used = key()
    with workflow_gateways.client() as client:
        client.post("/trigger", json={"event": "signed_up"}, headers={"Idempotency-Key": used})
        other = client.post("/trigger", json={"event": "left"}, headers={"Idempotency-Key": used})
        other_path = client.post(
            "/executions/stop", json={"stop_event": "left"}, headers={"Idempotency-Key": used}
        )
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert used in other.json()["errors"][0]["reason"]
    assert other_path.status_code == 200  # keys are scoped to a path


def test_concurrent_requests_with_one_key_run_once(workflow_gateways: WorkflowGateways) -> None:
    owner, shared = f"u-{uuid.uuid4().hex}", key()

    def send(process: int) -> httpx2.Response:
        with workflow_gateways.client(process=process) as client:
            body = {"name": "Concurrent", "user_key": owner}
            return client.post("/workflows", json=body, headers={"Idempotency-Key": shared})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, (0, 1, 0, 1)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1
    with workflow_gateways.client() as client:
        listed = client.get("/workflows", params={"user_key": owner}).json()
    assert len(listed["collection"]) == 1


def test_errors_are_kept_too_and_a_retry_records_no_second_command(
    workflow_gateways: WorkflowGateways,
) -> None:
    used, marker = key(), uuid.uuid4().hex
    body = {"event": "signed_up", "execution_data": {"marker": marker}}
    with workflow_gateways.client() as client:
        missing = client.post("/trigger", json={}, headers={"Idempotency-Key": used})
        retried = client.post("/trigger", json={}, headers={"Idempotency-Key": used})
        recorded = [
            client.post("/trigger", json=body, headers={"Idempotency-Key": f"{used}-2"})
            for _ in range(2)
        ]
    assert missing.status_code == retried.status_code == 400
    assert retried.json() == missing.json()
    assert [r.status_code for r in recorded] == [200, 200]
    commands = asyncio.run(read_to_end(workflow_gateways.kafka, topics.WORKFLOW_COMMANDS))
    # durable (on Kafka when the answer came), and once
    assert len([r for r in commands if marker.encode() in (r.value or b"")]) == 1


def test_a_process_started_later_knows_the_keys(workflow_gateways: WorkflowGateways) -> None:
    """A restarted gateway rebuilds the idempotency records from Kafka, like a new one."""
    used = {"Idempotency-Key": f"life-{uuid.uuid4().hex}"}
    body = {"name": "Lasting", "user_key": f"u-{uuid.uuid4().hex}"}
    with workflow_gateways.client() as client:
        first = client.post("/workflows", json=body, headers=used)
    process, url = start_gateway(workflow_gateways.kafka, workflow_gateways.data_dir, "gateway-c")
    try:
        auth = {"Authorization": f"Bearer {workflow_gateways.keys['sk_test']}", **used}
        later = httpx2.post(f"{url}/api/v1/workflows", json=body, headers=auth, timeout=15)
    finally:
        stop(process)
    assert later.status_code == 200 and later.json() == first.json()
    assert later.headers["Idempotent-Replayed"] == "true"
