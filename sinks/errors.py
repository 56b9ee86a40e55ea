"""Sink errors: the one a sink raises for a batch that is to be written again.

A store's refusal of the data itself has its own class where the store decides it
(`sinks/clickhouse/errors.py`: `DataRefused`), and becomes dead letters, never a retry.
"""

from runtime.errors import HeadwaterError

__all__ = ["SinkWriteFailed"]


class SinkWriteFailed(HeadwaterError):
    """The store did not take a batch: the checkpoint rewinds its partition and writes the same
    range again after a back-off."""
