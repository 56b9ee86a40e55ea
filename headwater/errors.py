"""The root of Headwater's error tree, and the errors of the CLI and the local stack.

Every package's `errors.py` derives from `HeadwaterError` and marks with `retriable` whether
trying the same thing again later can succeed (a service that is down) or not (bad input).
"""

__all__ = [
    "ComponentFailed",
    "HeadwaterError",
    "KafkaUnreachable",
    "MissingPrerequisite",
    "QueryFailed",
    "ServiceFailed",
    "TopicCreationFailed",
    "TopicMismatch",
]


class HeadwaterError(Exception):
    """Base of every error Headwater raises on purpose."""

    retriable: bool = False


class ServiceFailed(HeadwaterError):
    """A local service did not come up (or died); the message carries its log tail."""

    retriable = True


class MissingPrerequisite(HeadwaterError):
    """A tool the local stack needs (Java, Maven) is not installed."""


class KafkaUnreachable(HeadwaterError):
    """Kafka did not answer an administrative request in time."""

    retriable = True


class TopicCreationFailed(HeadwaterError):
    """Kafka refused to create a topic (e.g. a replication factor above the broker count)."""


class ComponentFailed(HeadwaterError):
    """A component exited while `headwater up` was starting or running it."""


class QueryFailed(HeadwaterError):
    """ClickHouse rejected a query, or could not be reached."""


class TopicMismatch(HeadwaterError):
    """A topic exists with a shape the code cannot work with (a changelog's partition count)."""
