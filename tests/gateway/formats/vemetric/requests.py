"""Vemetric requests for the tests: the seed's examples, as project p1's, taken through the
shared request path's part before Kafka (`tests/gateway/parts.py`)."""

from typing import Any

import pytest

from gateway.errors import InvalidPayload
from gateway.ingest import Accepted
from gateway.projects import Project
from schemas import topics
from schemas.event import Event, decode
from tests.factories import fixture as seed_example
from tests.gateway.parts import accepted, request_parts

__all__ = [
    "HEADERS",
    "PROJECTS",
    "SDK_HEADERS",
    "TOKEN",
    "accept",
    "fixture",
    "parse",
    "rejected_field",
    "sdk_accept",
]

TOKEN = "proj_your_project_token_here"
PROJECTS = [Project(id="p1", vemetric_tokens=[TOKEN])]
HEADERS = {"user-agent": "curl/8", "allow-cookies": "false"}
SDK_HEADERS = {"token": TOKEN, "v-sdk": "python", "v-sdk-version": "0.2.0"}


def fixture(name: str) -> dict[str, object]:
    return dict(seed_example(f"vemetric/{name}"))


def accept(body: dict[str, Any] | bytes, path: str = "/e", **headers: str) -> Accepted:
    parts = request_parts(body, path=path, headers=HEADERS | headers, idempotency_key="k1")
    return accepted(parts, PROJECTS)


def parse(body: dict[str, Any], path: str = "/e") -> list[Event]:
    done = accept(body, path)
    assert all(record.topic == topics.RAW for record in done.records)
    return [decode(record.value or b"") for record in done.records]


def rejected_field(body: dict[str, Any] | bytes, path: str = "/e") -> str:
    with pytest.raises(InvalidPayload) as caught:
        accepted(request_parts(body, path=path, headers=HEADERS), PROJECTS)
    return caught.value.problems[0].field


def sdk_accept(body: dict[str, Any], path: str = "/e", **headers: str) -> list[Event]:
    """What the SDKs send: the token and `V-SDK` headers."""
    parts = request_parts(body, path=path, headers=HEADERS | SDK_HEADERS | headers)
    return [decode(record.value or b"") for record in accepted(parts, PROJECTS).records]
