"""The gateway's Prometheus metrics: the shared component counters plus HTTP-level ones."""

from prometheus_client import Counter, Histogram

from runtime.telemetry import ComponentMetrics

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics(ComponentMetrics):
    """Requests by format and status, events accepted, bytes, bots, set-aside bulk elements,
    prefetches, refused origins, and Kafka produce latency."""

    def __init__(self) -> None:
        super().__init__("gateway")
        self.requests = Counter(
            "headwater_gateway_requests",
            "HTTP requests by vendor format, path and status code.",
            ("format", "path", "status"),
            registry=self.registry,
        )
        self.events_accepted = self._by_format(
            "events_accepted", "Events acknowledged by Kafka and answered 2xx, by format."
        )
        self.request_bytes = self._by_format(
            "request_bytes", "Request body bytes received (after gzip inflation), by format."
        )
        self.bots = self._by_format(
            "bot_events",
            "Events from known bots, kept apart on the bots topic instead of the raw topic.",
        )
        self.set_aside = self._by_format(
            "set_aside_events",
            "Invalid elements of bulk bodies, written to the dead-letter topic while the valid "
            "ones were accepted, by format.",
        )
        self.prefetches = self._by_format(
            "prefetch_requests",
            "Browser prefetch or preview requests: answered 200, nothing recorded, by format.",
        )
        self.origins_refused = self._by_format(
            "origin_refused_requests",
            "Browser requests refused because their Origin is not in the project's "
            "allowed_origins, by format.",
        )
        self.produce_latency = Histogram(
            "headwater_gateway_produce_latency_seconds",
            "Time from producing a request's records to Kafka acknowledging all of them.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def _by_format(self, name: str, documentation: str) -> Counter:
        """A counter `headwater_gateway_<name>` labelled by vendor format."""
        return Counter(
            f"headwater_gateway_{name}", documentation, ("format",), registry=self.registry
        )
