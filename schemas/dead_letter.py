"""A record that a stage could not handle, kept whole with the reason, so nothing is lost."""

from datetime import UTC, datetime
from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

__all__ = ["DeadLetter", "DeadLetterReason", "reason_for"]

# ENTRY_NOT_FOUND keeps the Embeddables API's own code, so it reads the same in both places.
DeadLetterReason = Literal[
    "invalid_record",
    "unsupported_schema_version",
    "ENTRY_NOT_FOUND",
    "processing_failed",
    "rejected_by_store",
]


class DeadLetter(BaseModel):
    """The original bytes, where they came from, and why they were set aside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: DeadLetterReason = Field(description="Why the record could not be processed.")
    detail: str = Field(description="Human-readable explanation, e.g. the validation error.")
    stage: str = Field(description="The component that set it aside, e.g. `processors`.")
    topic: str = Field(description="Topic the record was read from.")
    partition: int = Field(description="Partition it was read from.")
    offset: int = Field(description="Its offset there.")
    key: str | None = Field(description="Its Kafka key, decoded as UTF-8 with replacement.")
    payload: str = Field(description="The original value, decoded as UTF-8 with replacement.")
    failed_at: AwareDatetime = Field(description="When it was set aside (UTC).")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(), option=orjson.OPT_UTC_Z)

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


def reason_for(error: ValidationError) -> DeadLetterReason:
    """Classify why a record is not a valid `Event`."""
    for detail in error.errors():
        if detail["loc"] == ("schema_version",) and detail["type"] == "literal_error":
            return "unsupported_schema_version"
    return "invalid_record"
