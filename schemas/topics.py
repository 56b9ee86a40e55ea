"""The Kafka topics that connect the components, and what each one carries.

| topic                | value                | key              | written by         | policy  |
|----------------------|----------------------|------------------|--------------------|---------|
| headwater.raw        | `Event`, as received | project:person   | gateway, producers | delete  |
| headwater.events     | `Event`, processed   | project:person   | processors         | delete  |
| headwater.deadletter | `DeadLetter`         | original key     | proc., sink (1)    | delete  |
| headwater.bots       | `Event` from a bot   | project:person   | gateway            | delete  |
| headwater.entries    | `Entry` or tombstone | `entry_key()`    | gateway, producers | compact |
| headwater.workflows  | `Change` or tombst.  | `definition_key` | gateway            | compact |
| headwater.workflow-commands | `Command`     | project:env:subj | gateway, proc. (2) | delete  |
| headwater.workflow-signals  | `Signal`      | as its command   | engine, dlq replay | delete  |
| headwater.workflow-history  | `Step`        | execution id     | engine             | delete  |
| headwater.workflow-stats    | stats or tomb.| workflow id      | engine (3)         | compact |

(1) And the gateway: bulk elements it sets aside, keyed by their project id; and the engine:
    webhooks that failed their last attempt (`webhook_failed`).
(2) The processors record an `event` command when an event matches a published workflow's
    trigger or stop event, keyed by its project, `live` and its person.
(3) The changelog of the engine's `stats` table, one partition per engine partition: the sum over
    partitions of a workflow's latest record is its `executions_count` and `stats`.

`headwater.workflows` has one partition whatever `HEADWATER_KAFKA_PARTITIONS` says: its order is
the order every replica applies the Embed Workflow API's writes in (schemas/workflows.py).
"""

__all__ = [
    "ALL",
    "BOTS",
    "CLIENT_HEADER",
    "COMPACTED",
    "DEAD_LETTER",
    "ENTRIES",
    "EVENTS",
    "RAW",
    "REROUTED_HEADER",
    "SINGLE_PARTITION",
    "SOURCE_HEADER",
    "WORKFLOWS",
    "WORKFLOW_COMMANDS",
    "WORKFLOW_HISTORY",
    "WORKFLOW_SIGNALS",
    "WORKFLOW_STATS",
]

RAW = "headwater.raw"
EVENTS = "headwater.events"
DEAD_LETTER = "headwater.deadletter"
BOTS = "headwater.bots"
ENTRIES = "headwater.entries"
WORKFLOWS = "headwater.workflows"
WORKFLOW_COMMANDS = "headwater.workflow-commands"
WORKFLOW_SIGNALS = "headwater.workflow-signals"
WORKFLOW_HISTORY = "headwater.workflow-history"
WORKFLOW_STATS = "headwater.workflow-stats"

ALL = (
    RAW, EVENTS, DEAD_LETTER, BOTS, ENTRIES, WORKFLOWS, WORKFLOW_COMMANDS, WORKFLOW_SIGNALS,
    WORKFLOW_HISTORY, WORKFLOW_STATS,
)  # fmt: skip
COMPACTED = frozenset({ENTRIES, WORKFLOWS, WORKFLOW_STATS})
SINGLE_PARTITION = frozenset({WORKFLOWS})

# Header of each processed record: the raw record it came from, `"<partition>:<offset>"`. The
# sink skips a record whose raw record already passed (a processor repeating itself after a crash).
SOURCE_HEADER = "headwater-source"

# Header of a record the processors moved to the partition Headwater's rule gives it
# (`runtime.partitioning`): where the producer had put it, `"<partition>:<offset>"`.
REROUTED_HEADER = "headwater-rerouted-from"

# Header a direct producer may set to be named in `headwater_records_rerouted_total{client}`:
# Kafka records do not carry the producer's client.id.
CLIENT_HEADER = "client-id"
