"""Helpers for integration tests: read a topic back, run `headwater` commands, wait for things."""

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.error import URLError

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from headwater.stack.process import stop_child as stop
from runtime.kafka import ensure_topics
from runtime.settings import KafkaSettings
from tests.kafka import commit_group_at_end

__all__ = [
    "children_of",
    "environment",
    "eventually",
    "headwater",
    "http_ok",
    "produce",
    "produce_many",
    "read_topic_until",
    "run_headwater",
    "start_group_at_end",
    "stop",
]

T = TypeVar("T")


def read_topic_until(
    bootstrap: str,
    topic: str,
    match: Callable[[ConsumerRecord[bytes, bytes]], bool],
    timeout: float = 20.0,
) -> ConsumerRecord[bytes, bytes]:
    """Read `topic` from the beginning until a record matches (no consumer group)."""

    async def read() -> ConsumerRecord[bytes, bytes]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            async with asyncio.timeout(timeout):
                async for record in consumer:
                    if match(record):
                        return record
        finally:
            await consumer.stop()
        raise AssertionError("unreachable")

    return asyncio.run(read())


def produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    """Publish one record as a direct producer would, and wait for the ack."""
    produce_many(bootstrap, topic, [(key, value)])


def produce_many(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
    """Publish (key, value) records in order, batched, and wait for every ack."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            sent = [await producer.send(topic, value, key=key) for key, value in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())


def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit the end of every partition of `topic` for `group`, so a new consumer group reads
    only what is produced from now on, not what earlier tests left in the shared topic."""

    async def commit() -> None:
        await ensure_topics(KafkaSettings(bootstrap=bootstrap))
        await commit_group_at_end(bootstrap, group, topic)

    asyncio.run(commit())


def eventually(check: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


def environment(overrides: dict[str, str], unset: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment with `overrides` applied and `unset` removed."""
    return {k: v for k, v in {**os.environ, **overrides}.items() if k not in unset}


def headwater(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a `headwater` command with exactly `env`, in its own session (so signals reach
    only it), its output in `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "headwater", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def run_headwater(*args: str, env: dict[str, str]) -> str:
    """Run a short `headwater` command to completion; its output, or fail with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "headwater", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
