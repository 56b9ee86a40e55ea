"""Request bodies against the running gateway: gzip inflated, hostile bodies refused with a clear
4xx in every format's shape, and a 413 that clients sending without `Expect` still read."""

import gzip
import urllib.error
import urllib.request
import uuid

import orjson
import pytest

from schemas import topics
from tests.gateway.conftest import RunningGateway, pageview
from tests.helpers import read_topic_until

pytestmark = pytest.mark.integration


def test_gzip_bodies_are_inflated(gateway: RunningGateway, kafka_bootstrap: str) -> None:
    user = f"user_{uuid.uuid4().hex}"
    body = gzip.compress(orjson.dumps(pageview(gateway.vemetric_token, user)))
    with gateway.client() as client:
        response = client.post(
            "/e",
            content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    assert response.status_code == 200
    read_topic_until(kafka_bootstrap, topics.RAW, lambda r: user.encode() in r.value)


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, b"x" * (300 * 1024), 413),
        ({"Content-Encoding": "gzip"}, gzip.compress(b" " * (50 * 1024 * 1024)), 413),
        ({"Content-Encoding": "gzip"}, b"not gzip at all", 400),
        ({"Content-Encoding": "br"}, b"{}", 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 415),
        ({"Content-Type": "application/json; charset=latin-1"}, b"{}", 415),
        ({}, b"{not json", 400),
        ({}, b'{"projectToken": "\xff\xfe"}', 400),
        ({}, b"[" * 5000 + b"]" * 5000, 400),
    ],
)
def test_hostile_bodies_get_a_clear_4xx_in_every_format(
    gateway: RunningGateway, headers: dict[str, str], content: bytes, status: int
) -> None:
    with gateway.client() as client:
        vemetric = client.post("/e", content=content, headers=headers)
        usermaven = client.post(
            "/api/v1/s2s/event",
            params={"token": gateway.usermaven_token},
            content=content,
            headers=headers,
        )
        embeddables = client.post(
            "/projects/acme/events",
            content=content,
            headers={"X-Api-Key": gateway.embeddables_key} | headers,
        )
    assert (vemetric.status_code, usermaven.status_code, embeddables.status_code) == (status,) * 3
    assert vemetric.headers["content-type"].startswith("text/plain")
    assert usermaven.json()["status"] == "error"
    assert embeddables.json()["errors"]


@pytest.mark.parametrize("path", ["/e", "/api/v1/s2s/event", "/projects/acme/events"])
def test_too_large_bodies_sent_without_expect_continue_get_their_413(
    gateway: RunningGateway, path: str
) -> None:
    """urllib (like requests) sends the whole body at once, without `Expect: 100-continue`: the
    gateway reads it to the end before answering, so the client sees the 413, not a reset."""
    body = b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    request = urllib.request.Request(
        f"{gateway.url}{path}", data=body, headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 413
