"""Trigger to webhook through the whole pipeline (bench/engine/pipeline.py), and the lateness of
a 2 s Delay under that load.

A paced client (open loop: event n goes out at n / rate s, whatever the answers do) sends Vemetric
`POST /e` events named `bench_signup` to the gateway, each with `customData.sent` =
`time.time()` just before its request. Each event starts both workflows: its `now` webhook's
latency is the receiver's arrival time - `sent`; its `delayed` webhook's lateness is its arrival
- (`sent` + 2 s). Both clocks are this machine's. Each command's Kafka timestamp splits the
latency into the part before the engine (gateway, processors) and the engine's part. The engine's
own lateness histogram (due time to the ticker firing the timer) is read from its /metrics before
and after, and the records it wrote to each topic from their end offsets.

Before measuring: single probe events until one arrives (the processors have the published
workflows, the engine has its partitions), then WARMUP_S at the lowest rate, all delivered. The
rates run in the order given, on the same pipeline, each once everything before it arrived.
"""

import asyncio
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from bench.cpu import cpu_seconds
from bench.engine.arrivals import command_times, delivered, engine_topics, record_counts
from bench.engine.pipeline import DELAY_S, EVENT, Pipeline, pipeline
from bench.engine.worker import Scrape, bucket_quantile, scrape
from bench.environment import BenchEnvironment, progress
from bench.kafka import EndOffsets
from bench.profiling import py_spy
from schemas import topics

__all__ = ["Latency", "latency"]

WARMUP_S = 3.0
CONNECTIONS = 64
PROBE_TIMEOUT_S = 120.0
STALL_S = 60.0
POLL_S = 2.0
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Latency:
    rate: float
    events: int
    send_s: float
    latencies_s: list[float]
    lateness_s: list[float]
    span_s: float
    """The measured span: from the first send until every webhook was seen at the receiver."""
    drain_s: float
    """From the first send to the last webhook's arrival."""
    cpu_s: dict[str, float]
    """CPU seconds of each part over the span."""
    engine_lateness: tuple[float, float]
    """p50 and p99 of the engine's lateness histogram over the span (bucket upper bounds)."""
    to_command_s: list[float]
    """Per event: `sent` to its command's Kafka timestamp (gateway, processors)."""
    command_to_webhook_s: list[float]
    """Per event: that timestamp to its `now` webhook's arrival (engine, receiver)."""
    records: dict[str, int]
    """Records the engine wrote over the span, by topic."""

    @property
    def achieved_per_s(self) -> float:
        return self.events / self.send_s

    @property
    def drained_per_s(self) -> float:
        """Events whose both webhooks arrived, per second, over the drain."""
        return self.events / self.drain_s

    def cpu_us_per_event(self, part: str) -> float:
        return self.cpu_s[part] / self.events * 1e6


class Client:
    """Keep-alive connections to the gateway's Vemetric `/e`, with the dev project's token."""

    def __init__(self, port: int, token: str) -> None:
        self._url = f"http://127.0.0.1:{port}/e"
        self._token = token
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS))

    async def close(self) -> None:
        await self._session.close()

    async def send(self, label: str) -> None:
        body = {"projectToken": self._token, "name": EVENT, "userIdentifier": f"user-{label}",
                "customData": {"sent": time.time(), "n": label}}  # fmt: skip
        async with self._session.post(self._url, data=orjson.dumps(body), headers=JSON) as answer:
            if answer.status != 200:
                raise SystemExit(f"POST /e: {answer.status} {await answer.text()}")

    async def paced(self, prefix: str, rate: float, count: int) -> float:
        """`count` events at `rate`/s, labelled `<prefix>-<n>`; the seconds the sending took."""
        started, sent = time.monotonic(), []
        for n in range(count):
            if (wait := started + n / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            sent.append(asyncio.create_task(self.send(f"{prefix}-{n}")))
        await asyncio.gather(*sent)
        return time.monotonic() - started


async def _warm_up(client: Client, running: Pipeline, rate: float) -> None:
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    for probe in range(10**6):
        await client.send(f"probe{probe}-0")
        if await delivered(running.receiver_url, f"probe{probe}", 1, 2.0, 0.2):
            break
        if time.monotonic() > deadline:
            raise running.engine.failed(f"no webhook after {PROBE_TIMEOUT_S:.0f} s of probes")
    count = int(rate * WARMUP_S)
    progress(f"latency: flowing; warm-up, {count:,} events at {rate:,.0f}/s")
    await client.paced("warm", rate, count)
    if await delivered(running.receiver_url, "warm", 2 * count, STALL_S, POLL_S) is None:
        raise running.engine.failed("the warm-up's webhooks did not all arrive")


async def _measure(
    client: Client, running: Pipeline, bootstrap: str, rate: float, seconds: float,
    spy: Path | None,
) -> Latency:  # fmt: skip
    count, prefix = int(rate * seconds), f"m{rate:g}"
    progress(f"latency: {count:,} events at {rate:,.0f}/s")
    before, names = _scraped(running), engine_topics(running.engine.app_id)
    records = await record_counts(bootstrap, names)
    async with EndOffsets(bootstrap) as ends:
        commands_from = await ends.of(topics.WORKFLOW_COMMANDS)
    cpu = {part: cpu_seconds(pid) for part, pid in running.pids.items()}
    started, first_sent = time.monotonic(), time.time()
    with py_spy(running.pids["engine"], spy) if spy else nullcontext():
        send_s = await client.paced(prefix, rate, count)
        await asyncio.sleep(DELAY_S)
        arrived = await delivered(running.receiver_url, prefix, 2 * count, STALL_S, POLL_S)
    used = {part: cpu_seconds(pid) - cpu[part] for part, pid in running.pids.items()}
    span_s, after = time.monotonic() - started, _scraped(running)
    if arrived is None:
        raise running.engine.failed(f"no webhook for {STALL_S:.0f} s, not all arrived")
    written = await record_counts(bootstrap, names)

    def late(flow: str, due: Callable[[float], float]) -> list[float]:
        return [d["at"] - due(float(d["sent"])) for d in arrived if d["flow"] == flow]

    lateness = tuple(bucket_quantile(before.lateness, after.lateness, q) for q in (0.5, 0.99))
    recorded = await command_times(bootstrap, commands_from)
    now = [d for d in arrived if d["flow"] == "now" and d["n"] in recorded]
    return Latency(
        rate, count, send_s, late("now", lambda sent: sent),
        late("delayed", lambda sent: sent + DELAY_S), span_s,
        max(d["at"] for d in arrived) - first_sent, used, (lateness[0], lateness[1]),
        [recorded[d["n"]] - float(d["sent"]) for d in now],
        [d["at"] - recorded[d["n"]] for d in now],
        {name: written[name] - records[name] for name in names},
    )  # fmt: skip


def _scraped(running: Pipeline) -> Scrape:
    found = scrape(running.engine)
    if found is None:
        raise running.engine.failed("the engine's /metrics did not answer")
    return found


async def latency(
    bench: BenchEnvironment, root: Path, rates: list[float], seconds: float,
    spy: Path | None = None,
) -> list[Latency]:  # fmt: skip
    """Warm the pipeline up, then each of `rates` events/s for `seconds`, measured (the engine
    under py-spy into `spy` at the highest rate, when given)."""
    async with pipeline(bench, root) as running:
        client = Client(running.gateway_port, bench.credentials.vemetric_token)
        try:
            await _warm_up(client, running, min(rates))
            measured = []
            for rate in rates:
                profiled = spy if rate == max(rates) else None
                measured.append(
                    await _measure(client, running, bench.bootstrap, rate, seconds, profiled)
                )
            return measured
        finally:
            await client.close()
