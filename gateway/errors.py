"""Why the gateway refuses a request. Each error carries its HTTP status, a stable code and the
problems found; every format renders it in its vendor's own shape."""

import re
from dataclasses import dataclass
from typing import Any, Self

from runtime.errors import HeadwaterError

__all__ = [
    "Conflict",
    "EntryNotFound",
    "Forbidden",
    "GatewayError",
    "IdempotencyKeyReused",
    "InvalidPayload",
    "KafkaUnavailable",
    "LimitExceeded",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "RateLimited",
    "Unauthorized",
    "UnsupportedMediaType",
]

# No header value may carry control characters (CR and LF least of all); the message quotes what
# the client sent, a field's name included, so they are replaced, or the whole answer fails.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: which field, why, and in a bulk body which element."""

    field: str
    reason: str
    index: int | None = None

    def __str__(self) -> str:
        where = self.field if self.index is None else f"[{self.index}].{self.field}"
        return f"{where}: {self.reason}"


class GatewayError(HeadwaterError):
    """A request the gateway answers with a 4xx or 5xx instead of accepting it. A subclass names
    its status and stable code in its header: `class Forbidden(GatewayError, status=403, ...)`."""

    status = 400
    code = "INVALID_REQUEST"

    def __init_subclass__(cls, status: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, problems: list[Problem], retry_after: int | None = None) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        self.retry_after = retry_after

    @classmethod
    def at(cls, field: str, reason: str, retry_after: int | None = None) -> Self:
        return cls([Problem(field, reason)], retry_after)

    def document(self) -> dict[str, Any]:
        """The JSON error of Embeddables and of the Embed Workflow API: a stable code, a
        message, and each problem's field and reason."""
        return {
            "code": self.code,
            "message": str(self),
            "errors": [{"field": p.field, "reason": p.reason} for p in self.problems],
        }

    def headers(self) -> dict[str, str]:
        """`X-Headwater-Error` (which field, and why: every vendor's error carries it) and
        `Retry-After` when there is one."""
        text = str(self).encode("ascii", "replace").decode()
        headers = {"X-Headwater-Error": _CONTROL.sub(" ", text)[:200]}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class InvalidPayload(GatewayError):
    """The body cannot become events: malformed JSON, a missing field, a wrong type, ..."""


class LimitExceeded(InvalidPayload):
    """A property tree deeper or wider than the gateway's limits: valid once an operator raises
    them, so a bulk element set aside for it carries its own reason (`exceeds_limits`)."""


class Unauthorized(GatewayError, status=401, code="UNAUTHORIZED"):
    """No credential, or one no project has."""


class Forbidden(GatewayError, status=403, code="FORBIDDEN"):
    """Another project's key, or a page's origin the project does not allow."""


class EntryNotFound(GatewayError, status=404, code="ENTRY_NOT_FOUND"):
    """Embeddables: no entry (user) matches the embeddable and identifier."""


class NotFound(GatewayError, status=404, code="NOT_FOUND"):
    """Embed Workflow API: no such workflow or user."""


class Conflict(GatewayError, status=409, code="CONFLICT"):
    """Embed Workflow API: a key taken, an object changed or deleted by a concurrent request, or
    a request with the same Idempotency-Key still running."""


class IdempotencyKeyReused(GatewayError, status=422, code="IDEMPOTENCY_KEY_REUSED"):
    """Embed Workflow API: an Idempotency-Key already used on this path with another body."""


class PayloadTooLarge(GatewayError, status=413, code="PAYLOAD_TOO_LARGE"):
    """A body, or its inflation, over `max_body_bytes`."""


class UnsupportedMediaType(GatewayError, status=415, code="UNSUPPORTED_MEDIA_TYPE"):
    """Not JSON, not UTF-8, or an encoding other than gzip or deflate."""


class RateLimited(GatewayError, status=429, code="RATE_LIMITED"):
    """Over the project's rate: retry after `retry_after` seconds."""


class KafkaUnavailable(GatewayError, status=503, code="UNAVAILABLE"):
    """Kafka did not acknowledge in time, or the producer's buffer is full; retry later."""
