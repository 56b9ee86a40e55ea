"""Vendor formats: each one is a pure translation of its vendor's requests into normalised records.

A format sees the parts of a request (`RequestParts`) and answers with data; it never looks a
project up, picks a Kafka topic, waits for Kafka or builds an HTTP response. Per path it declares
an `Endpoint` with two steps and an error shape:

1. `read(parts) -> Reading`: as much of the request as finding its credential takes, and the
   `Credential` (`gateway/auth.py`). Vemetric's token and the Usermaven tracker's key may be in
   the body, so those formats parse and validate the body here; Embeddables' key is a header and
   Usermaven's server token a parameter, so their bodies wait for the second step: a request with
   an unknown key is refused for its key, whatever its body, as the vendors do.
2. `translate(parts, project, payload) -> Translation`: the rest, as events (`EventRecord`:
   `Event`'s fields, gateway/event_record.py), `Entry` writes and deletions and `DeadLetter`s
   (bulk elements set aside), the entries that must already exist, and the success `Reply` as
   data; or a `GatewayError`.
3. `render_error(error) -> ErrorBody`: a `GatewayError` as the vendor's error body.

Everything else is the shared request path's (`gateway/ingest.py`), the same for every format,
as Vector's HTTP sources only build events and share the rest (`src/sources/util/http/prelude.rs`).

The values made for every request (`RequestParts`, `Credential`, `Translation`, the records) are
slotted dataclasses that nothing changes once made, but not frozen ones: a frozen dataclass's
constructor sets each field through `object.__setattr__`, about 1 µs more per value, and the
gateway's single-event path is measured in instructions (`bench/`).
"""

import hashlib
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeAlias, TypeVar

from pydantic import BaseModel
from starlette.datastructures import Headers, QueryParams

from gateway.auth import Credential
from gateway.errors import GatewayError
from gateway.event_record import EventRecord
from gateway.projects import Project
from gateway.validation import Limits
from schemas.dead_letter import DeadLetter
from schemas.entry import Entry

__all__ = [
    "DeletedEntry",
    "Endpoint",
    "ErrorBody",
    "Reading",
    "Reply",
    "RequestParts",
    "RequiredEntry",
    "Translation",
]

P = TypeVar("P")

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


@dataclass(slots=True)  # made per request: not frozen (the module docstring says why)
class RequestParts:
    """What a format reads of a request: the decoded body, headers and parameters, the client's
    address, the clock, and the limits bodies are held to."""

    path: str
    body: bytes
    headers: Headers
    path_params: Mapping[str, str]
    query_params: QueryParams
    client_host: str | None
    received_at: datetime
    limits: Limits
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


# The first step's result: the payload read so far, and the credential. A plain tuple: every
# request makes one, and a named tuple's or a dataclass's constructor costs a call.
Reading: TypeAlias = tuple[P, Credential]


@dataclass(frozen=True, slots=True)
class Reply:
    """The vendor's success answer, sent once Kafka has every record: a JSON body, or none."""

    status: int = 200
    json: bytes | None = None


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """A vendor's error answer without its status and headers (the shared path adds those)."""

    content: bytes
    media_type: str


@dataclass(frozen=True, slots=True)
class RequiredEntry:
    """An entry the request names that must exist, and the vendor's error when it does not."""

    key: bytes
    missing: GatewayError


@dataclass(frozen=True, slots=True)
class DeletedEntry:
    """An entry to delete (a tombstone on the entries topic)."""

    key: bytes


@dataclass(slots=True)  # made per request: not frozen (the module docstring says why)
class Translation:
    """A valid request, normalised: what to write, what must exist first, and the answer."""

    reply: Reply
    events: Sequence[EventRecord] = ()
    entries: Sequence[Entry | DeletedEntry] = ()
    dead_letters: Sequence[DeadLetter] = ()  # bulk elements refused one by one
    required_entries: Sequence[RequiredEntry] = ()


@dataclass(frozen=True)
class Endpoint(Generic[P]):
    """One vendor path: its two steps and error shape, and what the OpenAPI document says of it
    (the body model, the success status)."""

    format: str
    method: str
    path: str
    read: Callable[[RequestParts], Reading[P]]
    translate: Callable[[RequestParts, Project, P], Translation]
    render_error: Callable[[GatewayError], ErrorBody]
    summary: str
    body: type[BaseModel]
    success_status: int = 200
    bulk: bool = False  # the body may also be an array of `body`
    browser: bool = False  # called from web pages: answers CORS and checks the project's origins
    keeps_bots_apart: bool = False  # events from known bots go to the bots topic
