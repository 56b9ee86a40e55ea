"""Create Headwater's topics before anything reads them.

Consumers that subscribe to a topic that does not exist yet may never pick it up later (faust
ignores missing topics at subscription), so every component ensures the topics at start.
"""

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from headwater.errors import KafkaUnreachable, TopicCreationFailed
from headwater.settings import KafkaSettings
from schemas import topics

__all__ = ["commit_group_at_end", "ensure_topics", "topic_partitions"]

_TOPIC_ALREADY_EXISTS = 36
_COMPACT = {"cleanup.policy": "compact"}


async def ensure_topics(kafka: KafkaSettings, timeout: float = 30.0) -> list[str]:
    """Create any missing Headwater topic, retrying until `timeout` while Kafka is unreachable;
    return the topics created now."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await _create_missing(kafka)
        except KafkaError as exc:
            if loop.time() > deadline:
                raise KafkaUnreachable(
                    f"could not create topics on {kafka.bootstrap_servers}: {exc!r}"
                ) from exc
            await asyncio.sleep(0.5)


async def _create_missing(kafka: KafkaSettings) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in topics.ALL if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    kafka.partitions,
                    kafka.replication_factor,
                    topic_configs=_COMPACT if name in topics.COMPACTED else {},
                )
                for name in missing
            ]
        )
    finally:
        await admin.close()
    failed = [
        f"{topic}: {message}"
        for topic, code, message in response.topic_errors
        if code not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        raise TopicCreationFailed("Kafka refused to create topics: " + "; ".join(failed))
    return missing


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """Every partition of `topic`, in order, as the broker describes it now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def commit_group_at_end(bootstrap_servers: str, group: str, *names: str) -> None:
    """Commit the current end of every partition of the named topics for `group`, so a consumer
    group new to them reads only what is produced from now on."""
    partitions = [tp for name in names for tp in await topic_partitions(bootstrap_servers, name)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(dict(await consumer.end_offsets(partitions)))
    finally:
        await consumer.stop()
