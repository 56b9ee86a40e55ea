"""Embeddables entries: the users an Embeddable knows, by (embeddable, identifier key, value).

Entries live on the compacted `headwater.entries` topic, keyed by `entry_key`: the latest record per
key is the entry, and a tombstone (a null value) deletes it. The gateway keeps a replica of the
keys to answer 404 ENTRY_NOT_FOUND synchronously; other services may produce entries directly.
"""

from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

__all__ = ["Entry", "entry_key", "keyed_as_its_entry"]


def entry_key(project_id: str, embeddable_id: str, identifier_key: str, value: str) -> bytes:
    """The Kafka key of an entry: a JSON array, so no separator can be ambiguous."""
    return orjson.dumps([project_id, embeddable_id, identifier_key, value])


class Entry(BaseModel):
    """One entry: an Embeddable's user, found by one identifier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this record's schema.")
    project_id: str = Field(min_length=1, description="Headwater project of the Embeddable.")
    embeddable_id: str = Field(min_length=1, description="The Embeddable (flow) id.")
    identifier_key: str = Field(min_length=1, description="User-data key, e.g. `email`.")
    identifier_value: str = Field(
        description="The identifier's value, decoded: a JSON string's text, else its JSON."
    )
    entry_id: str = Field(min_length=1, description="Stable id of the entry.")
    updated_at: AwareDatetime = Field(description="When the entry was last written (UTC).")

    def kafka_key(self) -> bytes:
        return entry_key(
            self.project_id, self.embeddable_id, self.identifier_key, self.identifier_value
        )

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(), option=orjson.OPT_UTC_Z)


def keyed_as_its_entry(key: bytes, value: bytes | None) -> bool:
    """True when a record of the entries topic is keyed as Headwater keys it: an entry under its
    own `kafka_key()`, a tombstone under a key `entry_key` could make. A value that is no entry
    counts as keyed so (it is set aside where it is); other records are keyed otherwise, and the
    processors send them on under the entry's own key (`processors/place.py`)."""
    if value is not None:
        try:
            return Entry.model_validate_json(value).kafka_key() == key
        except ValidationError:
            return True
    try:
        parts = orjson.loads(key)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parts, list) and len(parts) == 4 and all(isinstance(p, str) for p in parts)
