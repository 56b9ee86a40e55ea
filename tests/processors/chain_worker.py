"""A processing chain over dict tables and an in-memory replica of the workflow definitions, with
no faust and no Kafka: the processors' unit tests drive it one raw record at a time."""

import asyncio
from dataclasses import dataclass, field

import orjson

from processors.chain import Chain
from processors.dedupe import SeenSet, Sweeper
from processors.entry_index import EntryIndex
from processors.identity import IdentityLinks
from processors.place import Reroutes, Rule
from processors.records import Outgoing
from processors.triggers import WorkflowChanges, WorkflowTriggers
from runtime.definitions import Definitions
from runtime.telemetry import ComponentMetrics
from schemas import topics
from schemas.entry import Entry
from schemas.event import Event, decode, encode
from tests.factories import NOW
from tests.processors.state import dict_slice

__all__ = ["EMBEDDABLE", "ENTRY", "KEY", "PARTITION", "RawRecord", "Replica", "Worker"]

PARTITION = 0  # of one, unless a test says otherwise: every record is on the partition rule
KEY = b"raw-key"
WINDOW_MS = 60_000
ENTRY = Entry(
    project_id="p1", embeddable_id="flow", identifier_key="email",
    identifier_value="ann@example.com", entry_id="entry-ann", updated_at=NOW,
)  # fmt: skip
EMBEDDABLE = {"source_format": "embeddables", "embeddable_id": "flow", "identifier_key": "email",
              "identifier_value": "ann@example.com"}  # fmt: skip


@dataclass
class RawRecord:
    """A raw record as faust's `Message` or aiokafka's `ConsumerRecord` carries it."""

    offset: int
    value: bytes | None
    key: bytes | None = KEY
    topic: str = topics.RAW
    partition: int = PARTITION
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class Replica:
    """The worker's replica of the definitions: the test applies changes to `state` (telling
    `changes`, as the replica's `on_decision` does) and says whether it has caught up."""

    state: Definitions = field(default_factory=Definitions)
    ready: bool = True
    changes: WorkflowChanges = field(default_factory=WorkflowChanges)


class Worker:
    """A chain over dict tables; the test sets where the entries partitions end and how many
    partitions the raw topic has."""

    def __init__(self, entry_wait_ms: int = 0, sweep_every: int = 64, partitions: int = 1) -> None:
        self.seen_table: dict[bytes, bytes] = {}
        self.metrics = ComponentMetrics("processors")
        self.replica = Replica()
        self.entries = EntryIndex({})
        self.entries_ends: dict[int, int | None] = {}
        self.partitions = partitions
        seen = SeenSet(self.seen_table, WINDOW_MS)
        self.chain = Chain(
            seen=seen,
            entries=self.entries,
            links=IdentityLinks({}),
            sweeper=Sweeper(seen, dict_slice(self.seen_table), sweep_every, 256),
            metrics=self.metrics,
            entry_wait_ms=entry_wait_ms,
            entries_ends=self._entries_ends,
            triggers=WorkflowTriggers(self.replica, self.replica.changes, self.metrics),
            rule=Rule(lambda: self.partitions, Reroutes(self.metrics)),
        )

    async def _entries_ends(self) -> dict[int, int | None]:
        return self.entries_ends

    def handle(self, offset: int, value: bytes | None) -> list[Outgoing]:
        return asyncio.run(self.chain.handle(RawRecord(offset, value)))

    def handed_on(self, offset: int, event: Event) -> Event:
        """The event as the chain hands it on to the events topic."""
        outgoing = self.handle(offset, encode(event))
        assert [o.topic for o in outgoing][:1] == [topics.EVENTS], outgoing
        return decode(outgoing[0].value)

    def set_aside(self, offset: int, value: bytes | None) -> dict[str, object]:
        """The dead letter the chain sends for this record."""
        [outgoing] = self.handle(offset, value)
        assert outgoing.topic == topics.DEAD_LETTER, outgoing
        assert outgoing.key == KEY
        letter: dict[str, object] = orjson.loads(outgoing.value)
        return letter

    def count(self, counter: str, topic: str = topics.RAW) -> float:
        labels = {"component": "processors", "topic": topic, "partition": str(PARTITION)}
        value = self.metrics.registry.get_sample_value(f"headwater_{counter}_total", labels)
        return value or 0.0

    def apply_entry(self) -> None:
        self.entries.apply(PARTITION, 0, ENTRY.kafka_key(), ENTRY.encode())
