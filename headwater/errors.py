"""The errors of the CLI, the operator commands and the local stack."""

from runtime.errors import HeadwaterError

__all__ = ["ComponentFailed", "QueryFailed", "ServiceFailed"]


class ServiceFailed(HeadwaterError):
    """A local service did not come up (or died); the message carries its log tail."""


class ComponentFailed(HeadwaterError):
    """A component exited while `headwater up` was starting or running it."""


class QueryFailed(HeadwaterError):
    """ClickHouse rejected a query, or could not be reached."""
