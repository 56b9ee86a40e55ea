"""Record contracts between the components: the normalised event, dead letters and topics."""

import json
from pathlib import Path

from schemas.event import SCHEMA_VERSION, Event

__all__ = ["EVENT_SCHEMA_FILE", "event_json_schema"]

EVENT_SCHEMA_FILE = Path(__file__).with_name(f"event.v{SCHEMA_VERSION}.schema.json")


def event_json_schema() -> str:
    """The JSON Schema of `Event`, as kept in `EVENT_SCHEMA_FILE` for direct producers."""
    schema = Event.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://headwater.dev/schemas/event.v{SCHEMA_VERSION}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
