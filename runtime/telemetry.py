"""The counters every component exports (Prometheus text format), in a registry of its own.

Names and labels follow one spec so dashboards work across components: `events_received`,
`events_sent`, `events_dropped` (of which `duplicates`) and `errors`, labelled by component, topic
and partition.
"""

import os

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["CONTENT_TYPE_LATEST", "ComponentMetrics"]

_LABELS = ("component", "topic", "partition")


class ComponentMetrics:
    """One component's counters; `inc(counter, topic, partition)` bumps one series."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_received = self._counter("events_received", "Events taken in.")
        self.events_sent = self._counter("events_sent", "Events handed on downstream.")
        self.events_dropped = self._counter(
            "events_dropped", "Events deliberately not handed on (duplicates, dead letters)."
        )
        self.duplicates = self._counter(
            "duplicates", "Events dropped as repeats of one already handed on."
        )
        self.errors = self._counter("errors", "Failures while handling events.")

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(f"headwater_{name}", documentation, _LABELS, registry=self.registry)

    def inc(self, counter: Counter, topic: str = "", partition: int | str = "", n: int = 1) -> None:
        counter.labels(self.component, topic, str(partition)).inc(n)

    def flush(self) -> None:
        """Hand the series what was counted outside them (the gateway counts its request path in
        plain integers); called before every scrape."""

    def render(self) -> bytes:
        """This process's series; with several worker processes sharing a
        `PROMETHEUS_MULTIPROC_DIR`, the sum over all of them."""
        self.flush()
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
