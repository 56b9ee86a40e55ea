"""Topic creation against the real broker. The processors' changelogs are made before faust
starts, are in the broker's metadata when `ensure_topics` returns (a worker that subscribed
before they were listed crashed its first table write), and a changelog partitioned unlike the
raw topic is a clear error, not a crash at the first event."""

import asyncio
import subprocess
import sys
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from processors.app import changelog_topics
from runtime.kafka import ensure_topics
from runtime.settings import KafkaSettings
from schemas import topics
from tests.helpers import environment
from tests.kafka import topic_partitions

pytestmark = pytest.mark.integration


async def _cleanup_policies(bootstrap: str, names: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        wanted = {"cleanup.policy": None}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, wanted) for name in names]
        )
    finally:
        await admin.close()
    return {
        resource[3]: config[1]
        for response in responses
        for resource in response.resources
        for config in resource[4]
    }


def test_changelogs_are_created_compacted_and_listed_with_the_raw_partition_count(
    kafka_bootstrap: str,
) -> None:
    changelogs = changelog_topics(f"test-topics-{uuid.uuid4().hex[:8]}")
    kafka = KafkaSettings(bootstrap=kafka_bootstrap)

    async def create_then_describe() -> tuple[list[str], list[int], int]:
        await ensure_topics(kafka)  # the session's broker may be new
        created = await ensure_topics(kafka, changelogs=changelogs)
        counts = [len(await topic_partitions(kafka_bootstrap, name)) for name in changelogs]
        return created, counts, len(await topic_partitions(kafka_bootstrap, topics.RAW))

    created, counts, raw = asyncio.run(create_then_describe())
    assert created == changelogs
    assert counts == [raw] * len(changelogs)
    policies = asyncio.run(_cleanup_policies(kafka_bootstrap, changelogs))
    assert policies == dict.fromkeys(changelogs, "compact")
    assert asyncio.run(ensure_topics(kafka, changelogs=changelogs)) == []


def test_a_changelog_partitioned_unlike_raw_stops_the_start_with_a_clear_error(
    kafka_bootstrap: str,
) -> None:
    app_id = f"test-topics-{uuid.uuid4().hex[:8]}"
    wrong = changelog_topics(app_id)[-1]

    async def create_wrong() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(wrong, 1, 1)])
        finally:
            await admin.close()

    asyncio.run(create_wrong())
    done = subprocess.run(
        [sys.executable, "-m", "headwater", "topics"],
        env=environment(
            {"KAFKA_BOOTSTRAP": kafka_bootstrap, "HEADWATER_PROCESSORS_APP_ID": app_id}
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"{wrong} has 1 partitions, but {topics.RAW} has" in done.stderr
    assert "Traceback" not in done.stderr
