"""Sink errors."""

from runtime.errors import HeadwaterError

__all__ = ["SinkWriteFailed"]


class SinkWriteFailed(HeadwaterError):
    """The store did not take a batch; trying again later may work."""
