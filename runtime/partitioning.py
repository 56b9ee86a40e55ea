"""Headwater's partition rule: which partition of a topic a record's state lives on.

A record of `headwater.raw` belongs on `rule_partition(Event.kafka_key(), n)`, one of
`headwater.entries` on `rule_partition(Entry.kafka_key(), n)`: Kafka's default partitioner as the
Java client and aiokafka apply it (murmur2 of the key, sign bit cleared, modulo the partition
count). The gateway produces with it; the processors move records a producer placed elsewhere to
it (`processors/place.py`); the gateway's entry replica and the sink count an entries record only
there. One function, so the three never disagree.
"""

from functools import lru_cache

from aiokafka.partitioner import murmur2

__all__ = ["rule_partition"]


@lru_cache(maxsize=65_536)
def rule_partition(key: bytes, partitions: int) -> int:
    """The partition `key` belongs on among `partitions`. murmur2 is pure Python in aiokafka
    (about 9 µs for a 30-byte key): cached, since one person's records repeat their key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
