"""Events flow again within 10 s of any one component's SIGKILL, against the real broker and
ClickHouse (issue 19).

The shared pipeline takes a steady trickle of events through the gateway, and the engine one of
workflow commands, while one component is killed, its whole process group as a container's death
would kill it (with several workers, the gateway serves from child processes), and started again
3 s later.
The pause is the time from the kill until the next record sent after it is in ClickHouse (for
the gateway, the next one it accepted); the time until one from every partition is, is printed
beside it. With two processors workers, the survivor takes the dead one's partitions over, with
no restart: the pause is until the next record on one of those.
What sets the pause (the consumer groups' session timeout, mostly): docs/pipeline.md, "Recovery".
"""

import itertools
import math
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import clickhouse_connect
import httpx2
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from engine.state import execution_id
from runtime.partitioning import rule_partition
from schemas import topics
from schemas.workflows import command_key
from tests.engine.live import PROJECT as ENGINE_PROJECT
from tests.engine.live import start_command
from tests.helpers import eventually, headwater, stop
from tests.pipeline import Pipeline
from tests.services import free_port

pytestmark = pytest.mark.integration

TARGET_S = 10.0
RESTART_AFTER_S = 3.0
# Records a second: enough to see the pause to a tenth of a second or so, few enough for a loaded
# machine (the engine writes several records for each command).
EVENTS_EVERY_S, COMMANDS_EVERY_S = 0.1, 0.5
WAIT_S = 90.0  # past faust's former 60 s session, so that a miss reports its time
START_ONLY = {"nodes": [{"id": "start", "type": "Start"}], "edges": []}  # started, then finished
HEADERS = {"Allow-Cookies": "false", "User-Agent": "pytest"}
EVENTS_SQL = "SELECT user_id FROM events WHERE project_id = {p:String} AND name = {n:String}"
STEPS_SQL = "SELECT DISTINCT execution_id FROM workflow_steps WHERE workflow_id = {n:String}"

Send = Callable[[int, int], str | None]  # (partition, n) -> the id it sent, None if refused


class Trickle:
    """One record every `every` seconds, round robin over the partitions, and when each was
    first seen in ClickHouse (polled every 0.2 s)."""

    def __init__(
        self, every: float, partitions: int, send: Send, written: Callable[[], Iterable[str]]
    ) -> None:
        self._every, self._partitions, self._send, self._written = every, partitions, send, written
        self._sent: dict[str, tuple[int, float]] = {}  # id -> (partition, when its send began)
        self._seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=loop, daemon=True)
                         for loop in (self._sending, self._watching)]  # fmt: skip

    def __enter__(self) -> "Trickle":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def pause_after(
        self, since: float, partitions: Collection[int] = ()
    ) -> tuple[float, float] | None:
        """Seconds from `since` until the first record sent after it on `partitions` (all if
        none are named) was in ClickHouse, and until one from each of them was; None until then."""
        wanted = set(partitions or range(self._partitions))
        first: dict[int, float] = {}
        for ident, (partition, sent_at) in list(self._sent.items()):
            seen = self._seen.get(ident)
            if partition in wanted and sent_at >= since and seen is not None:
                first[partition] = min(seen, first.get(partition, math.inf))
        if len(first) < len(wanted):
            return None
        return min(first.values()) - since, max(first.values()) - since

    def flowing(self) -> None:
        """Until records sent from now on reach ClickHouse from every partition."""
        since = time.monotonic()
        eventually(lambda: self.pause_after(since), timeout=WAIT_S, what="the trickle flowing")

    def _sending(self) -> None:
        for n in itertools.count():
            partition, began = n % self._partitions, time.monotonic()
            if (ident := self._send(partition, n)) is not None:
                self._sent[ident] = (partition, began)
            if self._stop.wait(self._every):
                return

    def _watching(self) -> None:
        while not self._stop.wait(0.2):
            now = time.monotonic()
            for ident in self._written():
                self._seen.setdefault(ident, now)


class Trickles(NamedTuple):
    events: Trickle  # Vemetric events through the gateway
    commands: Trickle  # workflow commands straight to the engine's topic


def on_partition(partition: int, partitions: int, name: str, key: Callable[[str], bytes]) -> str:
    """`name-<i>` with the first i whose key Headwater's rule puts on `partition`."""
    names = (f"{name}-{i}" for i in itertools.count())
    return next(n for n in names if rule_partition(key(n), partitions) == partition)


def event_sender(pipeline: Pipeline, client: httpx2.Client, partitions: int, name: str) -> Send:
    """A Vemetric event named `name` for a user of its own, keyed to the partition."""
    project = pipeline.credentials.project_id

    def key(user: str) -> bytes:
        return f"{project}:{user}".encode()  # Event.kafka_key of a user's event

    def send(partition: int, n: int) -> str | None:
        user = on_partition(partition, partitions, f"{name}-{n}", key)
        body = {"projectToken": pipeline.token, "name": name, "identifier": user}
        try:
            answer = client.post(f"{pipeline.gateway}/e", json=body)
        except httpx2.HTTPError:
            return None  # the gateway is down
        return user if answer.is_success else None

    return send


def command_sender(producer: Producer, partitions: int, workflow_id: str) -> Send:
    """A command starting a Start-only execution of `workflow_id`, keyed to the partition."""

    def send(partition: int, n: int) -> str | None:
        person = on_partition(partition, partitions, f"{workflow_id}-{n}",
                              lambda p: command_key(ENGINE_PROJECT, "live", p))  # fmt: skip
        command = start_command(START_ONLY, {}, person=person, workflow_id=workflow_id)
        producer.produce(topics.WORKFLOW_COMMANDS, command.encode(), command.kafka_key(),
                         partition=partition)  # fmt: skip
        if producer.flush(5) != 0:
            return None
        return execution_id(workflow_id, command.request_id)

    return send


def written(clickhouse: str, sql: str, **parameters: str) -> Callable[[], list[str]]:
    """The ids `sql` finds, each call (one client: the watching thread's own)."""
    client = clickhouse_connect.get_client(dsn=clickhouse)
    return lambda: [row[0] for row in client.query(sql, parameters=parameters).result_rows]


@pytest.fixture(scope="module")
def trickles(pipeline: Pipeline, clickhouse_url: str) -> Iterator[Trickles]:
    run = uuid.uuid4().hex[:6]
    name, workflow = f"recovery-{run}", f"wf-recovery-{run}"
    producer = Producer({"bootstrap.servers": pipeline.env["KAFKA_BOOTSTRAP"], "acks": "all"})
    raw, commands = (len(producer.list_topics(t, timeout=10).topics[t].partitions)
                     for t in (topics.RAW, topics.WORKFLOW_COMMANDS))  # fmt: skip
    project = pipeline.credentials.project_id
    with httpx2.Client(timeout=2, headers=HEADERS) as client:
        events = Trickle(EVENTS_EVERY_S, raw, event_sender(pipeline, client, raw, name),
                         written(clickhouse_url, EVENTS_SQL, p=project, n=name))  # fmt: skip
        steps = Trickle(COMMANDS_EVERY_S, commands, command_sender(producer, commands, workflow),
                        written(clickhouse_url, STEPS_SQL, n=workflow))  # fmt: skip
        with events, steps:
            yield Trickles(events, steps)


def kill(process: subprocess.Popen[bytes]) -> float:
    """SIGKILL the process's whole group (its own session), as a container's death would; the
    moment of the kill."""
    os.killpg(process.pid, signal.SIGKILL)
    killed = time.monotonic()
    process.wait(timeout=30)
    return killed


def measured(trickle: Trickle, killed: float, what: str, partitions: Collection[int] = ()) -> float:
    """The seconds from the kill to the next record in ClickHouse (on `partitions`, if named)."""
    first, every = eventually(
        lambda: trickle.pause_after(killed, partitions), timeout=WAIT_S, what=what
    )
    print(f"{what}: the next record in ClickHouse {first:.1f} s after the SIGKILL, "
          f"one from each partition {every:.1f} s")  # fmt: skip
    return first


@pytest.mark.parametrize("command", ["gateway", "process", "sink", "engine"])
def test_records_flow_again_within_10_s_of_a_sigkill_and_a_restart_3_s_later(
    pipeline: Pipeline, trickles: Trickles, command: str
) -> None:
    trickle = trickles.commands if command == "engine" else trickles.events
    trickle.flowing()
    killed = kill(pipeline.processes[command])
    time.sleep(max(0.0, killed + RESTART_AFTER_S - time.monotonic()))
    pipeline.start(command)
    assert measured(trickle, killed, f"{command} restarted 3 s later") < TARGET_S


def test_the_survivor_of_two_processors_workers_takes_over_within_10_s(
    pipeline: Pipeline, trickles: Trickles, tmp_path: Path
) -> None:
    port = free_port()
    env = pipeline.env | {
        "HEADWATER_DATA_DIR": str(tmp_path),
        "HEADWATER_PROCESSORS_METRICS_PORT": str(port),
    }
    second = headwater("process", env=env, log=tmp_path / "process.log")
    try:
        held = eventually(lambda: raw_partitions(port), timeout=WAIT_S, what="a second worker")
        trickles.events.flowing()
        killed = kill(second)
        what = f"one of two workers killed, its raw partitions {sorted(held)} taken over"
        assert measured(trickles.events, killed, what, held) < TARGET_S
    finally:
        if second.poll() is None:
            stop(second)


def raw_partitions(port: int) -> set[int]:
    """The raw partitions a processors worker has taken records from, by its /metrics."""
    try:
        text = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx2.HTTPError:
        return set()
    return {
        int(sample.labels["partition"])
        for family in text_string_to_metric_families(text)
        if family.name == "headwater_events_received"
        for sample in family.samples
        if sample.labels.get("topic") == topics.RAW and sample.value > 0
    }
