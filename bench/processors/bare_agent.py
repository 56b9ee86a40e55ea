"""faust's own cost per record, for bench/processors/floor.py: a bare agent over the same records
as the processors, doing only what every processed event needs from faust and nothing of
Headwater's.

    python -m bench.processors.bare_agent MODE SOURCE_TOPIC PARTITIONS RECORDS OUTPUT_TOPIC DATA_DIR

MODE is what the agent does with each record:
- `consume`: nothing (faust's fetcher, stream and acks);
- `send`: also send it on to OUTPUT_TOPIC through faust's producer, as the processors send events;
- `table`: also write one new key into a RocksDB table with a changelog, as the dedupe seen-set
  does for every event handed on.

The worker runs as `headwater process` runs it (uvloop, faust's Worker, a fresh app id and so a
fresh consumer group from the start of SOURCE_TOPIC; its table has PARTITIONS partitions, as
many as the topic, as faust requires). It prints one JSON line, the seconds and
CPU seconds from its first record to its RECORDS-th, and exits.
"""

import asyncio
import logging
import os
import sys
import time
import uuid
from pathlib import Path

import faust
import orjson
import uvloop

__all__ = ["MODES", "create_app"]

MODES = ("consume", "send", "table")


class _Clock:
    """Wall and CPU time from the first record to the last expected one."""

    def __init__(self, records: int) -> None:
        self.records = records
        self.seen = 0
        self._wall = self._cpu = 0.0

    def tick(self) -> bool:
        """Count one record; True when it was the last."""
        if self.seen == 0:
            self._wall, self._cpu = time.monotonic(), time.process_time()
        self.seen += 1
        return self.seen == self.records

    def report(self) -> bytes:
        wall, cpu = time.monotonic() - self._wall, time.process_time() - self._cpu
        return orjson.dumps({"records": self.records, "seconds": wall, "cpu_seconds": cpu})


def create_app(
    mode: str, source: str, partitions: int, records: int, output: str, data_dir: Path
) -> faust.App:
    app = faust.App(
        f"bench-floor-{mode}-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP']}",
        store="rocksdb://",
        key_serializer="raw",
        value_serializer="raw",
        datadir=str(data_dir),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        topic_partitions=partitions,
    )
    table = app.Table("floor", key_type=bytes, value_type=bytes)
    clock = _Clock(records)

    @app.agent(app.topic(source, key_serializer="raw", value_serializer="raw"))
    async def floor(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            if mode != "consume":
                await app.producer.send(output, message.key, message.value, message.partition,
                                        None, None)  # fmt: skip
            if mode == "table":
                table[f"{message.partition}:{message.offset}".encode()] = b"1"
            if clock.tick():
                sys.stdout.buffer.write(clock.report() + b"\n")
                sys.stdout.flush()
                os._exit(0)  # measured; a clean shutdown would only add to the wait

    return app


def main() -> None:
    mode, source, partitions, records, output, data_dir = sys.argv[1:7]
    if mode not in MODES:
        raise SystemExit(f"MODE is one of {', '.join(MODES)}")
    logging.basicConfig(level=logging.WARNING)  # a crash of the agent shows on stderr
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(mode, source, int(partitions), int(records), output, Path(data_dir))
    worker = faust.Worker(
        app, loop=loop, quiet=True, override_logging=False, redirect_stdouts=False
    )
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
