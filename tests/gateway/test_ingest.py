"""The shared request path without Kafka: the order of its checks, the entries a request requires,
the answers' shapes and headers, and the whole path in process with Kafka's ack answered at once."""

import dataclasses
from collections.abc import Iterator

import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import ENDPOINTS
from gateway.errors import (
    EntryNotFound,
    InvalidPayload,
    KafkaUnavailable,
    RateLimited,
    Unauthorized,
)
from gateway.formats import RequestParts, RequiredEntry, Translation
from gateway.ingest import Ingest, accept, check_entries, error_response
from gateway.metrics import GatewayMetrics
from gateway.projects import Project, ProjectRegistry, ProjectSource, hash_secret
from gateway.records import OutgoingRecord
from gateway.routing import IngestRouter
from gateway.settings import GatewaySettings
from schemas import topics
from schemas.event import Event
from tests.factories import fixture
from tests.gateway.parts import accepted, endpoint, request_parts

PROJECTS = [
    Project(id="acme", vemetric_tokens=["proj_acme"], embeddables_key_hashes=[hash_secret("rk")]),
    Project(id="shop", vemetric_tokens=["proj_shop"], allowed_origins=["https://shop.example"]),
    Project(id="slow", vemetric_tokens=["proj_slow"], rate_limit_per_s=1),
]
ENTRY = {"embeddable_id": "flow", "identifiers": [{"key": "email", "value": '"a@b.c"'}]}


class Replica:
    """The entry replica's part the request path uses, in memory."""

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.keys: set[bytes] = set()

    def contains(self, key: bytes) -> bool:
        return key in self.keys

    def apply(self, key: bytes, present: bool) -> None:
        (self.keys.add if present else self.keys.discard)(key)


class Kafka:
    """Acknowledges every record at once, and keeps them; or is down."""

    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []
        self.down = False

    async def publish(self, records: list[OutgoingRecord]) -> list[int]:
        if self.down:
            raise KafkaUnavailable.at("kafka", "not connected to Kafka yet", 7)
        self.records += records
        return [0] * len(records)


@pytest.fixture
def kafka() -> Kafka:
    return Kafka()


@pytest.fixture
def replica() -> Replica:
    return Replica()


@pytest.fixture
def client(kafka: Kafka, replica: Replica) -> Iterator[TestClient]:
    """The vendor routes over the request path, without the app's lifespan (no Kafka)."""
    settings = GatewaySettings(retry_after_s=7)
    ingest = Ingest(settings, ProjectSource.of(PROJECTS), kafka, replica, GatewayMetrics())
    routes = [Route(e.path, ingest.endpoint(e), methods=[e.method, "OPTIONS"]) for e in ENDPOINTS]
    with TestClient(IngestRouter(routes, Starlette(routes=routes))) as client:
        yield client


def test_a_key_is_refused_before_a_body_it_does_not_need_is_read() -> None:
    """Embeddables' key is a header: an unknown one is 401 whatever the body."""
    parts = request_parts(b"{not json", path="/projects/acme/events", headers={"x-api-key": "x"})
    with pytest.raises(Unauthorized):
        accepted(parts, PROJECTS)


def test_a_value_the_vendor_model_let_through_but_the_event_refuses_is_invalid() -> None:
    def translate(parts: RequestParts, project: Project, payload: object) -> Translation:
        Event.model_validate({"event_id": "e1"})  # as a translation building an Event would
        raise AssertionError("unreachable")

    spec = dataclasses.replace(endpoint("/e"), translate=translate)
    parts = request_parts({"projectToken": "proj_acme", "name": "signup"})
    with pytest.raises(InvalidPayload) as caught:
        accept(spec, parts, ProjectRegistry(PROJECTS))
    assert caught.value.problems[0].field == "project_id"


def test_entries_are_checked_only_when_required_and_once_the_replica_has_loaded() -> None:
    missing = EntryNotFound.at("identifiers", "no entry")
    required = [RequiredEntry(b"k", missing)]
    check_entries([], Replica(ready=False), 7)
    with pytest.raises(KafkaUnavailable) as loading:
        check_entries(required, Replica(ready=False), 7)
    assert (str(loading.value), loading.value.retry_after) == (
        "entries: entries are still loading",
        7,
    )
    with pytest.raises(EntryNotFound) as caught:
        check_entries(required, Replica(), 7)
    assert caught.value is missing
    present = Replica()
    present.apply(b"k", True)
    check_entries(required, present, 7)


def test_an_error_is_the_vendors_body_with_why_and_when_to_retry_in_headers() -> None:
    error = RateLimited.at("project", "over 1 events/s", retry_after=3)
    vemetric = error_response(endpoint("/e"), error)
    assert (vemetric.status_code, vemetric.body) == (429, b"Too Many Requests")
    assert vemetric.headers["content-type"].startswith("text/plain")
    assert vemetric.headers["x-headwater-error"] == "project: over 1 events/s"
    assert vemetric.headers["retry-after"] == "3"
    usermaven = error_response(endpoint("/api/v1/s2s/event"), error)
    assert orjson.loads(usermaven.body)["status"] == "error"
    assert usermaven.headers["retry-after"] == "3"


def test_a_success_reply_is_its_json_or_an_empty_body(client: TestClient) -> None:
    empty = client.post("/i", json={"projectToken": "proj_acme", "identifier": "u"})
    assert (empty.status_code, empty.content, "content-type" in empty.headers) == (202, b"", False)
    assert empty.headers["content-length"] == "0"
    event = fixture("embeddables/custom_event") | ENTRY
    assert client.put("/projects/acme/entries", json=ENTRY, headers={"X-Api-Key": "rk"})
    done = client.post("/projects/acme/events", json=event, headers={"X-Api-Key": "rk"})
    assert (done.headers["content-type"], done.json()["status"]) == ("application/json", "ok")
    assert done.headers["content-length"] == str(len(done.content))


def test_an_entry_written_is_found_at_once_by_the_next_event(
    client: TestClient, kafka: Kafka
) -> None:
    headers = {"X-Api-Key": "rk"}
    event = fixture("embeddables/custom_event") | ENTRY
    missing = client.post("/projects/acme/events", json=event, headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "ENTRY_NOT_FOUND")
    assert missing.headers["x-headwater-error"].startswith("identifiers: no entry of embeddable")
    assert client.put("/projects/acme/entries", json=ENTRY, headers=headers).status_code == 200
    assert client.post("/projects/acme/events", json=event, headers=headers).status_code == 200
    assert [r.topic for r in kafka.records] == [topics.ENTRIES, topics.RAW]


def test_entries_loading_is_503_with_retry_after(client: TestClient, replica: Replica) -> None:
    replica.ready = False
    event = fixture("embeddables/custom_event") | ENTRY
    response = client.post("/projects/acme/events", json=event, headers={"X-Api-Key": "rk"})
    assert (response.status_code, response.headers["retry-after"]) == (503, "7")


def test_a_page_of_another_origin_is_403_and_nothing_is_sent(
    client: TestClient, kafka: Kafka
) -> None:
    body = {"projectToken": "proj_shop", "name": "$pageview", "url": "https://x.example/"}
    foreign = client.post("/e", json=body, headers={"Origin": "https://x.example"})
    assert (foreign.status_code, foreign.text) == (403, "Invalid!")
    assert foreign.headers["x-headwater-error"].startswith("Origin: https://x.example is not")
    assert kafka.records == []
    assert client.post("/e", json=body, headers={"Origin": "https://shop.example"}).is_success


def test_over_the_projects_rate_is_429(client: TestClient) -> None:
    body = {"projectToken": "proj_slow", "name": "signup"}
    statuses = [client.post("/e", json=body).status_code for _ in range(4)]
    assert statuses[0] == 200 and 429 in statuses


def test_kafka_down_is_503_in_the_vendors_shape(client: TestClient, kafka: Kafka) -> None:
    kafka.down = True
    response = client.post("/e", json={"projectToken": "proj_acme", "name": "signup"})
    assert (response.status_code, response.text, response.headers["retry-after"]) == (
        503,
        "Service Unavailable",
        "7",
    )


def test_prefetches_and_options_never_reach_kafka(client: TestClient, kafka: Kafka) -> None:
    body = {"projectToken": "proj_acme", "name": "$pageview", "url": "https://a.example/"}
    prefetch = client.post("/e", json=body, headers={"Purpose": "prefetch"})
    options = client.options("/e")
    assert (prefetch.status_code, prefetch.content) == (200, b"")
    assert (options.status_code, options.headers["allow"]) == (204, "OPTIONS, POST")
    assert kafka.records == []
