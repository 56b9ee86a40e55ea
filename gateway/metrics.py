"""The gateway's Prometheus metrics: the shared component counters plus HTTP-level ones.

The request path counts in plain integers, on series it looked up once (`RouteSeries`,
`count_sent`), and `flush` hands each series its count with one `inc`: at every scrape of this
process, and once a second (with several workers, prometheus-client's multiprocess files are
what a scrape reads). prometheus-client's `labels()` converts, checks and looks its labels up under
a lock on every call, and each `inc` takes a lock: four counters and the latency histogram per
request were a tenth of a single event's instructions, the counters 7% (docs/performance.md,
"Gateway: metrics counted in integers").
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

from gateway.records import OutgoingRecord
from runtime.telemetry import ComponentMetrics

__all__ = ["GatewayMetrics", "Pending", "RouteSeries"]

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
        self._routes: list[RouteSeries] = []
        self._sent: dict[tuple[str, int], Pending] = {}

    def route(self, format_name: str, path: str) -> "RouteSeries":
        """The series one route counts on every request, looked up once."""
        series = RouteSeries(
            self.requests,
            format_name,
            path,
            Pending(self.request_bytes.labels(format_name)),
            Pending(self.events_accepted.labels(format_name)),
            Pending(self.bots.labels(format_name)),
            Pending(self.set_aside.labels(format_name)),
        )
        self._routes.append(series)
        return series

    def count_sent(self, records: Sequence[OutgoingRecord], partitions: Sequence[int]) -> None:
        """`events_sent` for records acknowledged on these partitions."""
        sent = self._sent
        for record, partition in zip(records, partitions, strict=True):
            pending = sent.get(where := (record.topic, partition))
            if pending is None:
                labels = (self.component, record.topic, str(partition))
                pending = sent[where] = Pending(self.events_sent.labels(*labels))
            pending.n += 1

    def flush(self) -> None:
        """Hand every series what was counted since the last flush."""
        for route in self._routes:
            route.flush()
        for pending in self._sent.values():
            pending.flush()

    def _by_format(self, name: str, documentation: str) -> Counter:
        """A counter `headwater_gateway_<name>` labelled by vendor format."""
        return Counter(
            f"headwater_gateway_{name}", documentation, ("format",), registry=self.registry
        )


class Pending:
    """A series, and what the request path counted for it since the last flush."""

    __slots__ = ("n", "series")

    def __init__(self, series: Counter) -> None:
        self.series, self.n = series, 0

    def flush(self) -> None:
        if n := self.n:
            self.n = 0
            self.series.inc(n)


@dataclass
class RouteSeries:
    """One route's series: requests by status (each looked up on its first use), bytes, events
    accepted, bots and elements set aside."""

    requests: Counter
    format_name: str
    path: str
    request_bytes: Pending
    events_accepted: Pending
    bots: Pending
    set_aside: Pending
    _by_status: dict[int, Pending] = field(default_factory=dict)

    def answered(self, status: int, body_bytes: int) -> None:
        pending = self._by_status.get(status)
        if pending is None:
            series = self.requests.labels(self.format_name, self.path, status)
            pending = self._by_status[status] = Pending(series)
        pending.n += 1
        self.request_bytes.n += body_bytes

    def accepted(self, events: int, bots: int, set_aside: int) -> None:
        """A request's events: accepted (`set_aside` of them as dead letters), `bots` of them
        from bots."""
        self.events_accepted.n += events - set_aside
        self.bots.n += bots
        self.set_aside.n += set_aside

    def flush(self) -> None:
        counts = (self.request_bytes, self.events_accepted, self.bots, self.set_aside)
        for pending in (*self._by_status.values(), *counts):
            pending.flush()
