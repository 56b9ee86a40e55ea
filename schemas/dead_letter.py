"""A record that a stage could not handle, kept whole with the reason, so nothing is lost.

Two kinds: a Kafka record the processors or the sink set aside (`topic`, `partition`, `offset`
say where it was read), and an element of a gateway bulk body refused on its own while the rest
of the body was accepted (`origin` says which request it came from; it was never on Kafka). The
gateway's fields were added later as optional ones, so letters written before still parse, and
letters without an origin encode exactly as before.
"""

from datetime import UTC, datetime
from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

__all__ = ["DeadLetter", "DeadLetterReason", "GatewayOrigin", "reason_for"]

# ENTRY_NOT_FOUND keeps the Embeddables API's own code, so it reads the same in both places.
DeadLetterReason = Literal[
    "invalid_record",
    "unsupported_schema_version",
    "ENTRY_NOT_FOUND",
    "processing_failed",
    "rejected_by_store",
    "exceeds_limits",
    "webhook_failed",
]


class GatewayOrigin(BaseModel):
    """The request a gateway letter's element came from: all that translating it again needs
    besides the element and the current settings (`headwater dlq replay`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = Field(description="The vendor format, e.g. `usermaven`.")
    path: str = Field(description="The request's path, e.g. `/api/v1/s2s/event/`.")
    project_id: str = Field(description="The project the request authenticated as.")
    received_at: AwareDatetime = Field(description="When the gateway received the request.")
    index: int = Field(ge=0, description="The element's index in the bulk body.")
    event_id: str = Field(
        description="The id its event gets when replayed: the one the gateway would have given "
        "it (derived from the Idempotency-Key or the source's id, else minted once)."
    )
    idempotency_key: str | None = Field(None, description="The request's Idempotency-Key.")
    api_key: str | None = Field(
        None, description="The public key the request authenticated with (never a secret)."
    )
    cookieless_id: str | None = Field(
        None, description="The anonymous id derived for visitors sent without one (a hash)."
    )


class DeadLetter(BaseModel):
    """The original bytes, where they came from, and why they were set aside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: DeadLetterReason = Field(description="Why the record could not be processed.")
    detail: str = Field(description="Human-readable explanation, e.g. the validation error.")
    stage: str = Field(description="The component that set it aside, e.g. `processors`.")
    topic: str | None = Field(
        None, description="Topic the record was read from; none for a gateway letter."
    )
    partition: int | None = Field(None, description="Partition it was read from.")
    offset: int | None = Field(None, description="Its offset there.")
    key: str | None = Field(description="Its Kafka key, decoded as UTF-8 with replacement.")
    payload: str = Field(description="The original value, decoded as UTF-8 with replacement.")
    failed_at: AwareDatetime = Field(description="When it was set aside (UTC).")
    origin: GatewayOrigin | None = Field(
        None, description="Gateway letters: the request the element came from."
    )

    def encode(self) -> bytes:
        # Without an origin, the letter's JSON is exactly what it was before origins existed.
        exclude = {"origin"} if self.origin is None else None
        return orjson.dumps(self.model_dump(exclude=exclude), option=orjson.OPT_UTC_Z)

    def where(self) -> str:
        """Where the letter's payload came from, for a listing."""
        if (origin := self.origin) is not None:
            return f"{origin.format} {origin.project_id} {origin.path}[{origin.index}]"
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @classmethod
    def of_record(
        cls,
        reason: DeadLetterReason,
        detail: str,
        stage: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
    ) -> "DeadLetter":
        """Set aside one Kafka record, keeping its bytes readable (invalid UTF-8 replaced)."""
        return cls(
            reason=reason,
            detail=detail,
            stage=stage,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode(errors="replace") if key is not None else None,
            payload=(value or b"").decode(errors="replace"),
            failed_at=datetime.now(UTC),
        )

    @classmethod
    def of_element(
        cls, reason: DeadLetterReason, detail: str, element: bytes, origin: GatewayOrigin
    ) -> "DeadLetter":
        """Set aside one element of a gateway bulk body, as the exact bytes it had there; it is
        set aside when the request was received, so the letter is a pure function of it."""
        return cls(
            reason=reason,
            detail=detail,
            stage="gateway",
            key=None,
            payload=element.decode(errors="replace"),
            failed_at=origin.received_at,
            origin=origin,
        )


def reason_for(error: ValidationError) -> DeadLetterReason:
    """Classify why a record is not a valid `Event`."""
    for detail in error.errors():
        if detail["loc"] == ("schema_version",) and detail["type"] == "literal_error":
            return "unsupported_schema_version"
    return "invalid_record"
