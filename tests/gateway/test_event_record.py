"""The formats' events are built as records, not `Event` models (gateway/event_record.py): every
format's records decode to the `Event` the model path would have published, byte for byte, under
the model's own key."""

from typing import Any

import pytest

from gateway.event_record import EventRecord, event_record
from gateway.projects import Project, UsermavenKey, hash_secret
from schemas import topics
from schemas.event import decode, encode
from tests.factories import NOW, fixture, make_event
from tests.gateway.parts import accepted, request_parts

PROJECTS = [
    Project(
        id="p1",
        vemetric_tokens=["proj_your_project_token_here"],
        usermaven_keys=[UsermavenKey(api_key="API_KEY", server_token_hash=hash_secret("SECRET"))],
        embeddables_key_hashes=[hash_secret("rk")],
    )
]
HEADERS = {"user-agent": "Mozilla/5.0 test", "v-sdk": "node", "allow-cookies": "true"}
EMBEDDABLES = {"x-api-key": "rk"}
ENTRY = {"embeddable_id": "flow", "identifiers": [{"key": "email", "value": '"a@b.c"'}]}
REQUESTS: list[tuple[str, Any, dict[str, str], str]] = [
    ("/e", fixture("vemetric/pageview"), HEADERS, ""),
    ("/e", fixture("vemetric/purchase"), HEADERS, ""),
    ("/e", fixture("vemetric/signup_with_user_data"), HEADERS, ""),
    ("/i", fixture("vemetric/identify"), HEADERS, ""),
    ("/u", fixture("vemetric/update_user"), HEADERS, ""),
    ("/api/v1/s2s/event", fixture("usermaven/bulk"), HEADERS, "token=API_KEY.SECRET"),
    ("/api/v1/s2s/event", fixture("usermaven/identify"), HEADERS, "token=API_KEY.SECRET"),
    ("/api/v1/event", fixture("usermaven/browser_batch"), HEADERS, "token=API_KEY"),
    ("/api/v1/event", fixture("usermaven/browser_identify"), HEADERS, "token=API_KEY"),
    ("/projects/p1/events", fixture("embeddables/purchase") | ENTRY, EMBEDDABLES, ""),
]


@pytest.mark.parametrize(("path", "body", "headers", "query"), REQUESTS)
def test_a_formats_records_are_what_the_model_would_have_published(
    path: str, body: Any, headers: dict[str, str], query: str
) -> None:
    parts = request_parts(body, path=path, headers=headers, query=query, idempotency_key="k")
    records = [r for r in accepted(parts, PROJECTS).records if r.topic == topics.RAW]
    assert records
    for record in records:
        event = decode(record.value or b"")  # the model validates every field
        assert encode(event) == record.value
        assert event.kafka_key() == record.key


def test_a_record_reads_as_the_model_and_knows_only_its_fields() -> None:
    model = make_event(user_id="u1", context={"user_agent": "x"})
    record = event_record(
        event_id="e1", project_id="p1", source_format="direct", name="signup",
        event_time=NOW, received_at=NOW, user_id="u1", context={"user_agent": "x"},
    )  # fmt: skip
    assert (record.encode(), record.kafka_key(), record.user_id) == (
        encode(model),
        model.kafka_key(),
        "u1",
    )
    assert isinstance(record, EventRecord)
    with pytest.raises(AttributeError):
        _ = record.no_such_field
    with pytest.raises(TypeError, match="user_idd"):
        event_record(user_idd="u1")
