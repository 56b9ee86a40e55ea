"""The gateway's Prometheus metrics: the shared component counters plus HTTP-level ones.

The request path bumps series it looked up once (`RouteSeries`, `count_sent`): prometheus-client's
`labels()` converts, checks and looks its labels up under a lock on every call, measured at several
microseconds per series per request (a `labels()` per record of a bulk body).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

from gateway.records import OutgoingRecord
from runtime.telemetry import ComponentMetrics

__all__ = ["GatewayMetrics", "RouteSeries"]

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
        self._sent: dict[tuple[str, int], Counter] = {}

    def route(self, format_name: str, path: str) -> "RouteSeries":
        """The series one route bumps on every request, looked up once."""
        return RouteSeries(
            self.requests,
            format_name,
            path,
            self.request_bytes.labels(format_name),
            self.events_accepted.labels(format_name),
            self.bots.labels(format_name),
            self.set_aside.labels(format_name),
        )

    def count_sent(self, records: Sequence[OutgoingRecord], partitions: Sequence[int]) -> None:
        """`events_sent` for records acknowledged on these partitions: one `inc` per series,
        each looked up once per process."""
        counts: dict[tuple[str, int], int] = {}
        for record, partition in zip(records, partitions, strict=True):
            where = (record.topic, partition)
            counts[where] = counts.get(where, 0) + 1
        for where, n in counts.items():
            series = self._sent.get(where)
            if series is None:
                series = self._sent[where] = self.events_sent.labels(
                    self.component, where[0], str(where[1])
                )
            series.inc(n)

    def _by_format(self, name: str, documentation: str) -> Counter:
        """A counter `headwater_gateway_<name>` labelled by vendor format."""
        return Counter(
            f"headwater_gateway_{name}", documentation, ("format",), registry=self.registry
        )


@dataclass
class RouteSeries:
    """One route's series: requests by status (each looked up on its first use), bytes, events
    accepted, bots and elements set aside."""

    requests: Counter
    format_name: str
    path: str
    request_bytes: Counter
    events_accepted: Counter
    bots: Counter
    set_aside: Counter
    _by_status: dict[int, Counter] = field(default_factory=dict)

    def answered(self, status: int, body_bytes: int) -> None:
        series = self._by_status.get(status)
        if series is None:
            series = self._by_status[status] = self.requests.labels(
                self.format_name, self.path, status
            )
        series.inc()
        self.request_bytes.inc(body_bytes)
