"""Place: move a record to the partition Headwater's rule gives it, before any state is read or
written (the repartition step of Kafka Streams).

The processors keep their state by partition: the dedupe sightings, identity links and entries of
partition N live with the worker that owns N, and only the records of N read them. That holds when
each record is where `runtime.partitioning.rule_partition` puts its content: `Event.kafka_key()`
for `headwater.raw`, `Entry.kafka_key()` for `headwater.entries`. The gateway produces that way; a
direct producer may not (librdkafka's CRC32, Sarama's FNV-1a, no key, another key). So a record off
the rule is not processed where it is: an identical copy goes to its rule partition, keyed by the
rule's key, with the producer's headers and `headwater-rerouted-from: <partition>:<offset>`, and
is processed there like any well-placed record. The original touches no state.

Exactly once in effect: a worker killed after sending a copy but before committing the original's
offset reads the original again and sends a second copy. Both carry the same bytes, so the second
is a repeat for the dedupe step (`processors.dedupe.event_identity`), and an entry applied twice is
the same entry.

Entries are applied only under their own key on its rule partition. An oddly keyed entry (key K,
not `Entry.kafka_key()`) is copied under its own key, and the alias K -> own key is kept in a table
on the partition K arrived on, so the producer's later tombstone of K (same key, same partitioner,
same partition) deletes the entry it named. Aliases are kept after the tombstone: a record read
again after a crash must find its alias again.

Each record moved is counted in `headwater_records_rerouted_total{topic, client}` and logged, at
most once a minute per topic and client, with the count since the last line. `client` is the
record's `client-id` header when the producer sets one (Kafka records do not carry the producer's
client.id); else, on `headwater.raw`, the event's `source_format` (an off-rule record in a
gateway's format means a gateway disagrees on the partition count), and `unknown` on entries.
"""

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

from prometheus_client import Counter
from pydantic import ValidationError

from processors.entry_index import EntryIndex
from processors.records import Outgoing, header_pairs
from runtime.partitioning import rule_partition
from runtime.streams import ConsumedRecord, Headers
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.entry import Entry

__all__ = ["EntryPlacement", "Reroutes", "Rule", "client_of"]

log = logging.getLogger(__name__)

_CLIENT_MAX = 64  # characters of a `client-id` header kept as a label
_UNKNOWN = "unknown"


def client_of(headers: Headers, fallback: str) -> str:
    """The producer's name from its `client-id` header, else `fallback`."""
    for name, value in header_pairs(headers):
        if name == topics.CLIENT_HEADER and value:
            return value.decode(errors="replace")[:_CLIENT_MAX]
    return fallback


class Reroutes:
    """Counts the records moved, by topic and client, and says so in the log at most once every
    `log_every_s` per topic and client."""

    def __init__(
        self,
        metrics: ComponentMetrics,
        log_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counter = Counter(
            "headwater_records_rerouted",
            "Records a producer put off Headwater's partition rule, moved to their rule partition.",
            ("topic", "client"),
            registry=metrics.registry,
        )
        self._log_every_s = log_every_s
        self._clock = clock
        self._unlogged: Tally[tuple[str, str]] = Tally()
        self._next_line: dict[tuple[str, str], float] = {}

    def count(self, topic: str, client: str) -> None:
        self._counter.labels(topic, client).inc()
        series = (topic, client)
        self._unlogged[series] += 1
        now = self._clock()
        if now < self._next_line.get(series, now):
            return
        self._next_line[series] = now + self._log_every_s
        log.warning(
            "records off Headwater's partition rule moved to their rule partition",
            extra={"topic": topic, "client": client, "records": self._unlogged.pop(series)},
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """Where the records of one topic belong: among its partitions as the worker knows them now
    (the consumer's metadata), the one `rule_partition` gives their key."""

    partitions: Callable[[], int]
    reroutes: Reroutes

    def misplaced(
        self, record: ConsumedRecord, key: bytes, client: str, rekeyed: bool = False
    ) -> Outgoing | None:
        """The copy of `record` for the partition of `key`, if it is not there already or must be
        keyed again; counted. None: the record is where it belongs."""
        partition = rule_partition(key, self.partitions())
        if partition == record.partition and not rekeyed:
            return None
        self.reroutes.count(record.topic, client_of(record.headers, client))
        kept = [pair for pair in header_pairs(record.headers) if pair[0] != topics.REROUTED_HEADER]
        source = f"{record.partition}:{record.offset}".encode()
        headers = [*kept, (topics.REROUTED_HEADER, source)]
        return Outgoing(record.topic, key, record.value, partition, headers)


class EntryPlacement:
    """What the entries agent does with each record: apply it to the index when it is the
    entry's own record on its rule partition, else send its copy there (and only note the offset
    as read)."""

    def __init__(
        self, index: EntryIndex, aliases: MutableMapping[bytes, bytes], rule: Rule
    ) -> None:
        self._index = index
        self._aliases = aliases
        self._rule = rule

    def take(self, record: ConsumedRecord) -> Outgoing | None:
        """Apply `record`, or return the copy to send."""
        if record.value is None:
            return self._tombstone(record)
        try:
            own = Entry.model_validate_json(record.value).kafka_key()
        except ValidationError:  # not an entry: kept where it is; an event naming it is set aside
            self._index.apply(record.partition, record.offset, record.key, record.value)
            return None
        if record.key is not None and record.key != own:
            self._aliases[record.key] = own
        return self._place(record, own, rekeyed=record.key != own)

    def _tombstone(self, record: ConsumedRecord) -> Outgoing | None:
        if record.key is None:  # names no entry
            self._index.apply(record.partition, record.offset, None, None)
            return None
        own = self._aliases.get(record.key)
        return self._place(record, own or record.key, rekeyed=own is not None)

    def _place(self, record: ConsumedRecord, own: bytes, rekeyed: bool) -> Outgoing | None:
        copy = self._rule.misplaced(record, own, _UNKNOWN, rekeyed)
        if copy is None:
            self._index.apply(record.partition, record.offset, own, record.value)
        else:
            self._index.moved(record.partition, record.offset, own)
        return copy
