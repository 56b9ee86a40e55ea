"""`python -m schemas` rewrites the Event JSON Schema file from the model."""

from schemas import EVENT_SCHEMA_FILE, event_json_schema

EVENT_SCHEMA_FILE.write_text(event_json_schema())
print(f"wrote {EVENT_SCHEMA_FILE}")
