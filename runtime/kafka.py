"""Create Headwater's topics before anything reads them.

Consumers that subscribe to a topic that does not exist yet may never pick it up later (faust
ignores missing topics at subscription), so every component ensures the topics at start, and
waits until the broker's metadata lists every partition of those it created.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from runtime.errors import KafkaUnreachable, TopicCreationFailed, TopicMismatch
from runtime.settings import KafkaSettings
from schemas import topics

__all__ = ["ensure_topics"]

_TOPIC_ALREADY_EXISTS = 36
_COMPACT = {"cleanup.policy": "compact"}
_METADATA_POLL_S = 0.1
# A refused change to a workflow definition is covered by its repair within milliseconds, but
# only while a gateway runs: an hour before compaction may drop what came before it gives every
# replica time to write the repair (runtime/definitions.py).
_WORKFLOWS_CONFIG = {"min.compaction.lag.ms": str(3_600_000)}


async def ensure_topics(
    kafka: KafkaSettings, timeout: float = 30.0, changelogs: Sequence[str] = ()
) -> list[str]:
    """Create any missing Headwater topic, and the processors' `changelogs` (compacted, as faust
    makes them), retrying until `timeout` while Kafka is unreachable; return the topics created.

    The changelogs are created here rather than by faust because faust declares them while its
    consumer subscribes: a changelog missing from that first metadata stays unknown to the worker
    until a rebalance, and the first write to its table crashes the agent (`PartitionsMismatch`,
    "has 0 partitions"). For the same reason every changelog must have as many partitions as the
    raw topic whose partitions its table follows, checked here with a clear error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await _create_missing(kafka, changelogs, deadline)
        except KafkaError as exc:
            if loop.time() > deadline:
                raise KafkaUnreachable(
                    f"could not create topics on {kafka.bootstrap_servers}: {exc!r}"
                ) from exc
            await asyncio.sleep(0.5)


async def _create_missing(
    kafka: KafkaSettings, changelogs: Sequence[str], deadline: float
) -> list[str]:
    wanted = [*topics.ALL, *changelogs]
    compacted = topics.COMPACTED | set(changelogs)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        1 if name in topics.SINGLE_PARTITION else kafka.partitions,
                        kafka.replication_factor,
                        topic_configs=_config(name, compacted),
                    )
                    for name in missing
                ]
            )
            _raise_for_refused(response.topic_errors)
        partitions = await _partition_counts(admin, wanted, deadline)
    finally:
        await admin.close()
    _require_copartitioned(partitions, changelogs)
    return missing


def _config(name: str, compacted: set[str] | frozenset[str]) -> dict[str, str]:
    if name == topics.WORKFLOWS:
        return _COMPACT | _WORKFLOWS_CONFIG
    return _COMPACT if name in compacted else {}


def _raise_for_refused(topic_errors: list[tuple[str, int, str]]) -> None:
    failed = [
        f"{topic}: {message}"
        for topic, code, message in topic_errors
        if code not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        raise TopicCreationFailed("Kafka refused to create topics: " + "; ".join(failed))


async def _partition_counts(
    admin: AIOKafkaAdminClient, names: list[str], deadline: float
) -> dict[str, int]:
    """Each topic's partition count, once the broker's metadata lists all its partitions with a
    leader (right after creation it may still list none)."""
    loop = asyncio.get_running_loop()
    while True:
        described = await admin.describe_topics(names)
        counts = {t["topic"]: len(t["partitions"]) for t in described if _fully_listed(t)}
        if len(counts) == len(names):
            return counts
        if loop.time() > deadline:
            absent = ", ".join(sorted(set(names) - set(counts)))
            raise KafkaUnreachable(f"the broker's metadata does not list {absent} yet")
        await asyncio.sleep(_METADATA_POLL_S)


def _fully_listed(described: dict[str, Any]) -> bool:
    partitions = described["partitions"]
    leaders = [p["leader"] for p in partitions]
    return described["error_code"] == 0 and bool(leaders) and min(leaders) >= 0


def _require_copartitioned(partitions: dict[str, int], changelogs: Sequence[str]) -> None:
    """faust refuses a table write whose changelog's partition count differs from its source's."""
    raw = partitions[topics.RAW]
    wrong = [f"{name} has {partitions[name]}" for name in changelogs if partitions[name] != raw]
    if wrong:
        raise TopicMismatch(
            f"{', '.join(wrong)} partitions, but {topics.RAW} has {raw}: a changelog needs as"
            ' many partitions as the topics its table follows (deploy/README.md, "Scaling")'
        )
