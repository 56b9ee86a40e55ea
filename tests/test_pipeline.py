"""The thin slice, each component in its own process, against the real broker and ClickHouse server.

Vemetric `POST /e` -> gateway -> headwater.raw -> processors -> headwater.events -> sink -> events.
"""

import uuid

import clickhouse_connect
import httpx2
import orjson
import pytest

from schemas import topics
from tests.conftest import FIXTURES
from tests.helpers import eventually, produce, read_topic_until
from tests.pipeline import Pipeline

pytestmark = pytest.mark.integration


def seed_body(name: str, token: str, **changes: object) -> dict[str, object]:
    body = orjson.loads((FIXTURES / "vemetric" / f"{name}.json").read_bytes())
    return dict(body) | {"projectToken": token} | changes


def test_seed_pageview_lands_in_clickhouse(pipeline: Pipeline, clickhouse_url: str) -> None:
    gateway, token = pipeline.gateway, pipeline.token
    user = f"user_{uuid.uuid4().hex[:12]}"
    response = httpx2.post(
        f"{gateway}/e",
        json=seed_body("pageview", token, identifier=user),
        headers={"Allow-Cookies": "false", "User-Agent": "pytest"},
    )
    assert (response.status_code, response.content) == (200, b"")

    client = clickhouse_connect.get_client(dsn=clickhouse_url)
    query = (
        "SELECT project_id, source_format, name, url, user_id, context['user_agent'],"
        " JSONExtractString(user_data, 'set', 'displayName'), is_historical, schema_version"
        " FROM events WHERE user_id = {user:String}"
    )
    rows = eventually(lambda: client.query(query, parameters={"user": user}).result_rows)
    assert rows == [
        (
            "dev",
            "vemetric",
            "$pageview",
            "https://example.com/blog/article",
            user,
            "pytest",
            "john@example.com",
            False,
            1,
        )
    ]


def test_custom_data_arrives_as_dimensions(pipeline: Pipeline, clickhouse_url: str) -> None:
    gateway, token = pipeline.gateway, pipeline.token
    user = f"user_{uuid.uuid4().hex[:12]}"
    response = httpx2.post(f"{gateway}/e", json=seed_body("purchase", token, identifier=user))
    assert response.status_code == 200

    client = clickhouse_connect.get_client(dsn=clickhouse_url)
    query = "SELECT dimensions, metrics FROM events WHERE user_id = {user:String}"
    rows = eventually(lambda: client.query(query, parameters={"user": user}).result_rows)
    assert rows == [
        (
            {"plan": "pro", "amount": "99.99", "currency": "USD", "billing_period": "monthly"},
            {},
        )
    ]


def test_bad_input_is_400_invalid(pipeline: Pipeline) -> None:
    for body in (
        {"projectToken": pipeline.token},
        {"projectToken": pipeline.token, "name": "$pageview"},
    ):
        response = httpx2.post(f"{pipeline.gateway}/e", json=body)
        assert (response.status_code, response.text) == (400, "Invalid!")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"this is not JSON", "invalid_record"),
        (b'{"schema_version": 2, "event_id": "x"}', "unsupported_schema_version"),
        # valid, but its properties cannot be written back as JSON (integer beyond 64 bits)
        (
            b'{"event_id": "MARKER", "project_id": "dev", "source_format": "direct", "name": "n",'
            b' "event_time": "2026-01-01T00:00:00Z", "received_at": "2026-01-01T00:00:00Z",'
            b' "properties": {"n": 18446744073709551616}}',
            "processing_failed",
        ),
    ],
)
def test_records_that_cannot_be_processed_are_dead_lettered(
    pipeline: Pipeline, kafka_bootstrap: str, value: bytes, reason: str
) -> None:
    marker = uuid.uuid4().hex.encode()
    value = value.replace(b"MARKER", marker)
    produce(kafka_bootstrap, topics.RAW, key=marker, value=value)

    # A valid event keyed off Headwater's rule is moved to its rule partition first, under its
    # rule key (docs/pipeline.md), so its letter is found by the marker in its event id.
    record = read_topic_until(
        kafka_bootstrap, topics.DEAD_LETTER, lambda r: r.key == marker or marker in r.value
    )
    letter = orjson.loads(record.value)
    assert (letter["reason"], letter["stage"], letter["topic"]) == (
        reason,
        "processors",
        topics.RAW,
    )
    assert letter["payload"] == value.decode()


def test_every_component_counts_what_it_handled(pipeline: Pipeline) -> None:
    for component, url in (
        ("gateway", pipeline.gateway),
        ("processors", pipeline.processors),
        ("sink", pipeline.sink),
    ):
        text = httpx2.get(f"{url}/metrics").text
        assert f'headwater_events_sent_total{{component="{component}"' in text, component


def test_the_processors_follow_the_published_workflows(pipeline: Pipeline) -> None:
    """A workflow published through the gateway's API reaches the processors' replica."""
    key = pipeline.credentials.workflows_secret_key
    api = httpx2.Client(
        base_url=f"{pipeline.gateway}/api/v1", headers={"Authorization": f"Bearer {key}"}
    )

    def published() -> int:
        text = httpx2.get(f"{pipeline.processors}/metrics").text
        line = next(x for x in text.splitlines() if x.startswith("headwater_workflows_published"))
        return int(float(line.split()[-1]))

    before = published()
    with api:
        made = api.post("/workflows", json={"name": "Welcome", "user_key": uuid.uuid4().hex})
        answer = api.put(f"/workflows/{made.json()['id']}", json={"template_status": "published"})
    assert answer.status_code == 200, answer.text
    eventually(lambda: published() > before, timeout=10, what="the processors' replica")
