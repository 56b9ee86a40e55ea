"""Kafka helpers of the tests and benchmarks: list a topic's partitions, move a group to the end,
measure a group's lag."""

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["commit_group_at_end", "group_lag", "read_to_end", "topic_partitions"]


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


async def group_lag(bootstrap_servers: str, group: str, *names: str) -> int:
    """How many records of the named topics `group` has not committed yet (a partition it never
    committed counts from its start)."""
    partitions = [tp for name in names for tp in await topic_partitions(bootstrap_servers, name)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()
    starts = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
    return sum(end - starts.get(tp, 0) for tp, end in ends.items())


async def read_to_end(
    bootstrap_servers: str, topic: str, since_ms: int | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` up to its current end, partition by partition (no group); with
    `since_ms`, only from the first one stamped at or after it (wall clock, milliseconds)."""
    partitions = await topic_partitions(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if since_ms is not None:
            firsts = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
            for tp in partitions:
                consumer.seek(tp, ends[tp] if firsts[tp] is None else firsts[tp].offset)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()
