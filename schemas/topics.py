"""The Kafka topics that connect the components, and what each one carries.

| topic                | value                | key              | written by         | policy  |
|----------------------|----------------------|------------------|--------------------|---------|
| headwater.raw        | `Event`, as received | project:person   | gateway, producers | delete  |
| headwater.events     | `Event`, processed   | project:person   | processors         | delete  |
| headwater.deadletter | `DeadLetter`         | original key     | proc., sink (1)    | delete  |
| headwater.bots       | `Event` from a bot   | project:person   | gateway            | delete  |
| headwater.entries    | `Entry` or tombstone | `entry_key()`    | gateway, producers | compact |

(1) And the gateway: bulk elements it sets aside, keyed by their project id.
"""

__all__ = ["ALL", "BOTS", "COMPACTED", "DEAD_LETTER", "ENTRIES", "EVENTS", "RAW", "SOURCE_HEADER"]

RAW = "headwater.raw"
EVENTS = "headwater.events"
DEAD_LETTER = "headwater.deadletter"
BOTS = "headwater.bots"
ENTRIES = "headwater.entries"

ALL = (RAW, EVENTS, DEAD_LETTER, BOTS, ENTRIES)
COMPACTED = frozenset({ENTRIES})

# Header of each processed record: the raw record it came from, `"<partition>:<offset>"`. The
# sink skips a record whose raw record already passed (a processor repeating itself after a crash).
SOURCE_HEADER = "headwater-source"
