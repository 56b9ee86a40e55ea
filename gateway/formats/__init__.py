"""Vendor formats: each module parses its payloads into `Event`s and answers in its own shape.

A format is described by a `Format`: how to parse a request body into events, and the vendor's
own responses for success, invalid input and "Kafka unavailable". The gateway's endpoint code is
the same for every format.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import Headers
from starlette.responses import Response

from gateway.errors import InvalidPayload
from headwater.projects import ProjectRegistry
from schemas.event import Event

__all__ = ["Format", "ParseContext"]


@dataclass(frozen=True)
class ParseContext:
    """What parsing needs besides the body: credentials to check, and the receive time."""

    headers: Headers
    projects: ProjectRegistry
    received_at: datetime


@dataclass(frozen=True)
class Format:
    """One vendor endpoint: its path, its parser and its answers."""

    path: str
    parse: Callable[[bytes, ParseContext], list[Event]]
    accepted: Callable[[], Response]
    rejected: Callable[[InvalidPayload], Response]
    unavailable: Callable[[int], Response]
