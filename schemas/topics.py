"""The Kafka topics that connect the components, and what each one carries.

| topic                | value                     | key              | written by         |
|----------------------|---------------------------|------------------|--------------------|
| headwater.raw        | `Event` JSON, as received | project:person   | gateway, producers |
| headwater.events     | `Event` JSON, processed   | project:person   | processors         |
| headwater.deadletter | `DeadLetter` JSON         | the original key | processors, sink   |
"""

__all__ = ["ALL", "DEAD_LETTER", "EVENTS", "RAW"]

RAW = "headwater.raw"
EVENTS = "headwater.events"
DEAD_LETTER = "headwater.deadletter"

ALL = (RAW, EVENTS, DEAD_LETTER)
