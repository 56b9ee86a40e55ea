"""Create Headwater's topics before anything reads them.

Consumers that subscribe to a topic that does not exist yet may never pick it up later (faust
ignores missing topics at subscription), so every component ensures the topics at start.
"""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from headwater.errors import KafkaUnreachable, TopicCreationFailed
from headwater.settings import KafkaSettings
from schemas import topics

__all__ = ["ensure_topics"]

_TOPIC_ALREADY_EXISTS = 36
_COMPACT = {"cleanup.policy": "compact"}


async def ensure_topics(kafka: KafkaSettings, timeout: float = 30.0) -> None:
    """Create any missing Headwater topic, retrying until `timeout` while Kafka is unreachable."""
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


async def _create_missing(kafka: KafkaSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [name for name in topics.ALL if name not in existing]
        if not missing:
            return
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
