"""The normalised event, version 1: the one record every stage after the gateway speaks.

The gateway turns each vendor payload into an `Event`; services that produce to Kafka directly
publish the same JSON (its JSON Schema is `schemas/event.v1.schema.json`). Fields are added, never
repurposed: a change that would break a reader bumps `schema_version`.
"""

from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.entry import entry_key

__all__ = ["SCHEMA_VERSION", "Event", "SourceFormat", "UserDataUpdate", "decode", "encode"]

SCHEMA_VERSION = 1

SourceFormat = Literal["vemetric", "usermaven", "embeddables", "direct"]


class UserDataUpdate(BaseModel):
    """Person property updates: `set` overwrites, `set_once` keeps the first, `unset` removes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    set: dict[str, Any] = Field(default_factory=dict, description="Properties to overwrite.")
    set_once: dict[str, Any] = Field(
        default_factory=dict, description="Properties to set only if the person has none yet."
    )
    unset: list[str] = Field(
        default_factory=list,
        description="Names of properties to remove; a key takes its latest `set` or `unset` in"
        " event time.",
    )


class Event(BaseModel):
    """One product-analytics event, whatever format it arrived in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this record's schema.")
    event_id: str = Field(
        min_length=1, description="Unique id of this event (32 hex digits if minted by Headwater)."
    )
    project_id: str = Field(min_length=1, description="Headwater project the event belongs to.")
    source_format: SourceFormat = Field(description="The format the event arrived in.")
    name: str = Field(min_length=1, description="Event name, e.g. `$pageview` or `purchase`.")
    event_time: AwareDatetime = Field(description="When the event happened (UTC).")
    received_at: AwareDatetime = Field(description="When Headwater received it (UTC).")
    is_historical: bool = Field(
        False, description="True for imports that carry their own past timestamp."
    )
    idempotency_key: str | None = Field(
        None, description="The request's Idempotency-Key header, for deduplication."
    )
    source_event_id: str | None = Field(None, description="The source's own id for the event.")
    user_id: str | None = Field(None, description="The known user's id, if any.")
    anonymous_id: str | None = Field(None, description="The anonymous visitor's id, if any.")
    person_id: str | None = Field(
        None,
        description="Set by the processors: the person the event belongs to (its user id, or the"
        " user its anonymous id was identified as by then, else its anonymous id or identifier)."
        " Producers leave it out.",
    )
    identifier_key: str | None = Field(
        None, description="Key of the identifier the event names its user by (e.g. `email`)."
    )
    identifier_value: str | None = Field(None, description="Value of that identifier.")
    embeddable_id: str | None = Field(
        None, description="Embeddables: the Embeddable whose entry the identifier names."
    )
    url: str | None = Field(None, description="Page URL the event happened on.")
    context: dict[str, str] = Field(
        default_factory=dict,
        description="Other request and page context (user agent, title, language, ...).",
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="The event's own properties, as sent."
    )
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Numeric properties, by name."
    )
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="String properties, by name."
    )
    user_data: UserDataUpdate = Field(
        default_factory=UserDataUpdate, description="Person property updates."
    )

    def names_entry(self) -> bytes | None:
        """The key of the Embeddables entry this event names (`entry_key`), if it names one."""
        if self.embeddable_id and self.identifier_key and self.identifier_value is not None:
            return entry_key(
                self.project_id, self.embeddable_id, self.identifier_key, self.identifier_value
            )
        return None

    def kafka_key(self) -> bytes:
        """Partition key, so that the processors' state is co-partitioned with the events that
        read it: an Embeddables event goes with its entry (the same key as on the entries topic),
        and an anonymous visitor's events go with their identify call (the anonymous id before
        the user id), so the link is on the partition of the events it resolves."""
        if (entry := self.names_entry()) is not None:
            return entry
        person = (
            self.anonymous_id
            or self.user_id
            or self.identifier_value
            or self.source_event_id
            or self.event_id
        )
        return f"{self.project_id}:{person}".encode()


def encode(event: Event) -> bytes:
    """Serialise for Kafka: compact JSON, UTC times with a `Z`. orjson, not pydantic's serializer:
    it refuses integers beyond 64 bits, which the processors then dead-letter rather than pass
    on to a sink that cannot store them."""
    return orjson.dumps(event.model_dump(), option=orjson.OPT_UTC_Z)


def decode(data: bytes | str) -> Event:
    """Parse and validate a record from Kafka (raises pydantic.ValidationError)."""
    return Event.model_validate_json(data)
