"""The sink's Prometheus metrics: the shared component counters plus how long its flushes take.

A row waits in the sink for its batch to come due (`HEADWATER_SINK_BATCH_MAX_AGE_MS`) and then for
its flush: the flush time is the part of a row's freshness that depends on ClickHouse.
"""

from prometheus_client import Histogram

from runtime.telemetry import ComponentMetrics

__all__ = ["SinkMetrics"]

_FLUSH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SinkMetrics(ComponentMetrics):
    """Events in, written, dropped and failed writes, and the duration of each flush."""

    def __init__(self) -> None:
        super().__init__("sink")
        self.flush_seconds = Histogram(
            "headwater_sink_flush_seconds",
            "Time to write one flush's batches to the store and commit their offsets.",
            buckets=_FLUSH_BUCKETS,
            registry=self.registry,
        )
