"""This gateway process's replica of the workflow definitions, and how it writes to them.

A write is a `Change` produced to `headwater.workflows`; the answer waits until this process's
own replica has applied it and reports the replica's decision (runtime/definitions.py), so a
client reads its own writes here at once, and every process decides the same. Other processes
apply the change within their replica's fetch wait (100 ms) once Kafka has it.

The store also repairs: after a refused change it re-publishes the key's decided state, so
compaction never leaves a refused change as a key's last word (see runtime/definitions.py).

Commands go to `headwater.workflow-commands`, keyed by their subject; a stop goes to every
partition of it instead (`every_partition`): the executions it may stop were started by events
too, keyed by each event's person, so they live on any partition.
"""

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Protocol

from gateway.errors import KafkaUnavailable
from gateway.ingest import Publisher
from gateway.records import OutgoingRecord
from runtime.definition_replica import DefinitionReplica
from runtime.definitions import Decision, Definitions
from runtime.settings import KafkaSettings
from runtime.tasks import BackgroundTask, Lifecycle
from schemas import topics
from schemas.workflows import Change, Command, parse_definition_key

__all__ = ["CommandPublisher", "DefinitionStore"]

log = logging.getLogger(__name__)

_SWEEP_EVERY_S = 600


class CommandPublisher(Publisher, Protocol):
    """The request path's publisher (gateway/publisher.py), which also knows a topic's
    partitions."""

    async def partitions(self, topic: str) -> list[int]: ...


class DefinitionStore(Lifecycle):
    """The definitions as this process knows them, and the one way to change them."""

    def __init__(self, kafka: KafkaSettings, publisher: CommandPublisher, wait_s: float) -> None:
        self._replica = DefinitionReplica(kafka, "headwater-gateway-workflows", self._decided)
        self._publisher = publisher
        self._wait_s = wait_s
        self._waiting: dict[str, asyncio.Future[Decision]] = {}
        self._repairs: asyncio.Queue[tuple[bytes, bytes | None]] = asyncio.Queue()
        self._repairer = BackgroundTask(self._repair, "workflows-repair")
        self._sweeper = BackgroundTask(self._sweep_every, "workflows-sweep")

    @property
    def state(self) -> Definitions:
        return self._replica.state

    @property
    def ready(self) -> bool:
        return self._replica.ready

    async def start(self) -> None:
        await self._replica.start()
        await self._repairer.start()
        await self._sweeper.start()

    async def stop(self) -> None:
        await self._sweeper.stop()
        await self._repairer.stop()
        await self._replica.stop()

    async def write(self, key: bytes, change: Change) -> Decision:
        """Produce `change` and return this replica's decision on it (503 when Kafka does not
        take it, or the replica does not see it, within the wait)."""
        if not self.ready:
            raise KafkaUnavailable.at("workflows", "the workflow definitions are still loading")
        decided = asyncio.get_running_loop().create_future()
        self._waiting[change.request_id] = decided
        try:
            await self._publisher.publish([OutgoingRecord(topics.WORKFLOWS, key, change.encode())])
            async with asyncio.timeout(self._wait_s):
                return await decided
        except TimeoutError as exc:
            raise KafkaUnavailable.at(
                "workflows", f"the change was not applied within {self._wait_s}s; retry"
            ) from exc
        finally:
            self._waiting.pop(change.request_id, None)

    async def record(self, command: Command, every_partition: bool = False) -> None:
        """Record a command for the workflow engine, durably (503 otherwise): on its key's
        partition, or once on each partition of the topic."""
        topic, key, value = topics.WORKFLOW_COMMANDS, command.kafka_key(), command.encode()
        partitions = await self._publisher.partitions(topic) if every_partition else [None]
        await self._publisher.publish([OutgoingRecord(topic, key, value, p) for p in partitions])

    def _decided(self, decision: Decision) -> None:
        waiting = self._waiting.get(decision.request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(decision)
        if not decision.accepted and self.ready:
            self._repairs.put_nowait((decision.key, decision.repair))

    async def _repair(self) -> None:
        await self._replica.follower.caught_up.wait()
        for key, value in list(self.state.unrepaired.items()):
            self._repairs.put_nowait((key, value))
        while True:
            key, value = await self._repairs.get()
            if key not in self.state.unrepaired:
                continue  # repaired meanwhile (by another process, or a later change)
            try:
                await self._publisher.publish([OutgoingRecord(topics.WORKFLOWS, key, value)])
            except KafkaUnavailable:
                log.warning("workflows: repair not written; retrying")
                await asyncio.sleep(1)
                self._repairs.put_nowait((key, value))

    async def sweep(self, at: datetime) -> int:
        """Delete the idempotency records expired at `at`, each only if it is still the record
        that expired (a new claim of its key wins), then tombstone it so compaction forgets it.
        Every gateway process sweeps; doing it twice is harmless. Returns how many went."""
        swept = 0
        for key, request_id in self.state.expired(at):
            change = Change(op="delete", request_id=str(uuid.uuid4()), base=request_id, at=at)
            if not (await self.write(key, change)).accepted:
                continue
            if self.state.get(*parse_definition_key(key)) is None:  # not claimed again meanwhile
                await self._publisher.publish([OutgoingRecord(topics.WORKFLOWS, key, None)])
            swept += 1
        return swept

    async def _sweep_every(self) -> None:
        await self._replica.follower.caught_up.wait()
        while True:
            try:
                await self.sweep(datetime.now(UTC))
            except KafkaUnavailable:
                log.warning("workflows: idempotency sweep interrupted; next time")
            await asyncio.sleep(_SWEEP_EVERY_S)
