"""The Kafka topics that connect the components, and what each one carries.

| topic                | value                | key              | written by         | policy  |
|----------------------|----------------------|------------------|--------------------|---------|
| headwater.raw        | `Event`, as received | project:person   | gateway, producers | delete  |
| headwater.events     | `Event`, processed   | project:person   | processors         | delete  |
| headwater.deadletter | `DeadLetter`         | original key     | proc., sink (1)    | delete  |
| headwater.bots       | `Event` from a bot   | project:person   | gateway            | delete  |
| headwater.entries    | `Entry` or tombstone | `entry_key()`    | gateway, producers | compact |
| headwater.workflows  | `Change` or tombst.  | `definition_key` | gateway            | compact |
| headwater.workflow-commands | `Command`     | project:env:user | gateway            | delete  |

(1) And the gateway: bulk elements it sets aside, keyed by their project id.

`headwater.workflows` has one partition whatever `HEADWATER_KAFKA_PARTITIONS` says: its order is
the order every replica applies the Embed Workflow API's writes in (schemas/workflows.py).
"""

__all__ = [
    "ALL",
    "BOTS",
    "COMPACTED",
    "DEAD_LETTER",
    "ENTRIES",
    "EVENTS",
    "RAW",
    "SINGLE_PARTITION",
    "SOURCE_HEADER",
    "WORKFLOWS",
    "WORKFLOW_COMMANDS",
]

RAW = "headwater.raw"
EVENTS = "headwater.events"
DEAD_LETTER = "headwater.deadletter"
BOTS = "headwater.bots"
ENTRIES = "headwater.entries"
WORKFLOWS = "headwater.workflows"
WORKFLOW_COMMANDS = "headwater.workflow-commands"

ALL = (RAW, EVENTS, DEAD_LETTER, BOTS, ENTRIES, WORKFLOWS, WORKFLOW_COMMANDS)
COMPACTED = frozenset({ENTRIES, WORKFLOWS})
SINGLE_PARTITION = frozenset({WORKFLOWS})

# Header of each processed record: the raw record it came from, `"<partition>:<offset>"`. The
# sink skips a record whose raw record already passed (a processor repeating itself after a crash).
SOURCE_HEADER = "headwater-source"
