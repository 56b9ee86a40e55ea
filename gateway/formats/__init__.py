"""Vendor formats: each module turns its requests into Kafka records and answers in its own shape.

An `Endpoint` is one path of one vendor: how to parse an `IngestRequest` into an `Accepted`
(records plus the success response, sent only after Kafka's ack) and how to render a
`GatewayError` in the vendor's error shape. The gateway's request handling is the same for all.
"""

import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response

from gateway.entries import EntriesReplica
from gateway.errors import GatewayError
from gateway.projects import ProjectRegistry
from gateway.settings import GatewaySettings
from schemas import topics
from schemas.event import Event, encode

__all__ = ["Accepted", "Endpoint", "IngestRequest", "OutgoingRecord"]

# Event ids derived from an Idempotency-Key or a source's own id are UUIDv5s in this namespace.
_EVENT_ID_NAMESPACE = uuid.UUID("5f0c8f9e-2b0a-4c57-9a57-0f3e6d1c2b7a")
_IDS_PER_READ = 256


class _RandomIds:
    """128-bit random ids as 32 hex digits, read from the OS 256 at a time: `uuid4()` makes one
    getrandom syscall per id, measured at 12% of the gateway's CPU on bulk bodies. The buffer is
    dropped in a forked child, so two workers never hand out the same ids."""

    def __init__(self) -> None:
        self._hex = ""
        self._next = 0
        os.register_at_fork(after_in_child=self._drop)

    def _drop(self) -> None:
        self._hex, self._next = "", 0

    def __call__(self) -> str:
        if self._next >= len(self._hex):
            self._hex, self._next = os.urandom(16 * _IDS_PER_READ).hex(), 0
        start, self._next = self._next, self._next + 32
        return self._hex[start : self._next]


random_event_id = _RandomIds()


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """One Kafka record to produce; `value=None` is a tombstone."""

    topic: str
    key: bytes
    value: bytes | None

    @classmethod
    def event(cls, event: Event, topic: str = topics.RAW) -> "OutgoingRecord":
        return cls(topic, event.kafka_key(), encode(event))


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What parsing needs: the decoded body, headers and parameters, credentials, the clock."""

    path: str
    body: bytes
    headers: Headers
    path_params: Mapping[str, str]
    query_params: QueryParams
    client_host: str | None
    received_at: datetime
    projects: ProjectRegistry
    entries: EntriesReplica
    settings: GatewaySettings
    idempotency_key: str | None = None

    def event_id(self, project_id: str, index: int = 0, source_id: str | None = None) -> str:
        """The event's id: derived from the Idempotency-Key (scoped to project and path) or the
        source's own id, so a retried request makes the same id; otherwise random."""
        if self.idempotency_key is not None:
            name = f"{project_id}\n{self.path}\n{self.idempotency_key}\n{index}"
        elif source_id:
            name = f"{project_id}\n{self.path}\nsource\n{source_id}"
        else:
            return random_event_id()
        return uuid.uuid5(_EVENT_ID_NAMESPACE, name).hex

    def cookieless_id(self, project_id: str) -> str:
        """An anonymous id for a visitor sent without one (no cookie): a hash of the project,
        client address, User-Agent and UTC day, so it rotates daily and stores no address."""
        day = self.received_at.date().isoformat()
        seed = f"{project_id}\n{self.client_host}\n{self.headers.get('user-agent', '')}\n{day}"
        return "anon_" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid request: the records to produce, then the answer once Kafka has them all."""

    project_id: str
    records: list[OutgoingRecord]
    response: Response
    bots: int = 0  # how many of `records` went to the bots topic
    set_aside: int = 0  # how many of `records` are dead letters (bulk elements refused one by one)


@dataclass(frozen=True)
class Endpoint:
    """One vendor path: its method, parser and error rendering, and what the OpenAPI document
    says of it (the body model, the success status)."""

    format: str
    method: str
    path: str
    parse: Callable[[IngestRequest], Accepted]
    render_error: Callable[[GatewayError], Response]
    summary: str
    body: type[BaseModel]
    success_status: int = 200
    bulk: bool = False  # the body may also be an array of `body`
    browser: bool = False  # called from web pages: answers CORS and checks the project's origins
