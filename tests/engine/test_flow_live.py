"""The README's workflow walk-through, for real: a workflow created and published over the API
with a live key, a Vemetric event sent with the vendor's Python SDK, the webhook at the receiver
we ship; the same raw record delivered twice starts one execution; an edit published while an
execution waits does not change it; the workflow object counts what ran."""

import time
import uuid
from typing import Any

import httpx2
from vemetric import VemetricClient

from headwater.keys import create_key
from schemas import topics
from tests.engine.live import hook_template, receiving
from tests.helpers import eventually, produce, read_topic_until
from tests.pipeline import Pipeline

_live_keys: dict[str, str] = {}


def api(pipeline: Pipeline) -> httpx2.Client:
    """The dev project's Workflow API with its live secret key (events trigger live workflows)."""
    if not _live_keys:
        lines = create_key(pipeline.data_dir / "projects.json", "dev", "workflows").split()
        _live_keys.update({line[:7]: line for line in lines if line.startswith(("pk_", "sk_"))})
        time.sleep(3)  # the gateway reloads the projects file every 2 s
    return httpx2.Client(
        base_url=f"{pipeline.gateway}/api/v1", auth=(_live_keys["sk_live"], ""), timeout=15
    )


def publish(client: httpx2.Client, template: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": f"flow {uuid.uuid4().hex[:6]}", "template": template,
            "template_status": "published", **fields}  # fmt: skip
    answer = client.post("/workflows", json=body)
    assert answer.status_code == 200, answer.text
    workflow: dict[str, Any] = answer.json()
    if workflow["last_published_at"] is None:  # create stores a draft; publish it
        answer = client.put(f"/workflows/{workflow['id']}", json={"template_status": "published"})
        assert answer.status_code == 200, answer.text
        workflow = answer.json()
    return workflow


def test_an_sdk_event_starts_the_published_workflow_once(pipeline: Pipeline) -> None:
    event = f"trial_started_{uuid.uuid4().hex[:8]}"
    user = f"flow-{uuid.uuid4().hex[:8]}"
    params = "person: {{ person.id }}\nplan: {{ event.properties.plan }}"
    with (
        receiving(pipeline.env, pipeline.data_dir, project="dev") as receiver,
        api(pipeline) as client,
    ):
        workflow = publish(client, hook_template(receiver.url, params=params), event_trigger=event)
        client_sdk = VemetricClient(token=pipeline.token, host=pipeline.gateway)
        client_sdk.track_event(event, user_identifier=user, event_data={"plan": "pro"})
        [delivery] = receiver.wait_for(1, timeout=60).values()
        assert delivery["body"] == {"person": user, "plan": "pro"}
        raw = read_topic_until(
            pipeline.env["KAFKA_BOOTSTRAP"],
            topics.RAW,
            lambda r: event.encode() in (r.value or b""),
        )
        produce(pipeline.env["KAFKA_BOOTSTRAP"], topics.RAW, raw.key or b"", raw.value or b"")
        time.sleep(3.0)  # the raw record again: the processors and the engine see a repeat
        [delivery] = receiver.deliveries().values()
        assert (delivery["attempts"], delivery["effects"]) == (1, 1)

        def counted() -> dict[str, Any] | None:
            found: dict[str, Any] = client.get(f"/workflows/{workflow['id']}").json()
            return found if found["executions_count"] == 1 else None

        shown = eventually(counted, timeout=10, what="executions_count")
        assert shown["stats"]["hook"]["succeeded"] == 1


def test_an_edit_published_while_an_execution_waits_does_not_change_it(
    pipeline: Pipeline,
) -> None:
    with (
        receiving(pipeline.env, pipeline.data_dir, project="dev") as receiver,
        api(pipeline) as client,
    ):
        first = hook_template(receiver.url, delay_s=2, params="version: one")
        workflow = publish(client, first)
        answer = client.post("/trigger", json={"workflow_ids": workflow["id"]})
        assert answer.status_code == 200, answer.text
        edited = hook_template(receiver.url, delay_s=2, params="version: two")
        answer = client.put(f"/workflows/{workflow['id']}",
                            json={"template": edited, "template_status": "published"})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["template"] == edited, answer.text
        [delivery] = receiver.wait_for(1, timeout=30).values()
    assert delivery["body"] == {"version": "one"}
