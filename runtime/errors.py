"""The root of Headwater's error tree, and the errors of the shared runtime.

Each package's `errors.py` derives its own errors from `HeadwaterError`. Errors carry no behaviour
flags: where a caller decides between retrying and giving up, it catches the classes it can retry.
"""

__all__ = [
    "HeadwaterError",
    "KafkaUnreachable",
    "MissingPrerequisite",
    "TopicCreationFailed",
    "TopicMismatch",
]


class HeadwaterError(Exception):
    """Base of every error Headwater raises on purpose."""


class MissingPrerequisite(HeadwaterError):
    """Something a component needs is not installed (Java, Maven, the ClickHouse engine)."""


class KafkaUnreachable(HeadwaterError):
    """Kafka did not answer an administrative request in time."""


class TopicCreationFailed(HeadwaterError):
    """Kafka refused to create a topic (e.g. a replication factor above the broker count)."""


class TopicMismatch(HeadwaterError):
    """A topic exists with a shape the code cannot work with (a changelog's partition count)."""
