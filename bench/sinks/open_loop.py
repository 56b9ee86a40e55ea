"""An open-loop HTTP load: Vemetric `POST /e` requests at a fixed rate, each naming its own user.

Request `seq` carries `identifier = <prefix><seq>`, so whoever reads the rows back can tell which
request each came from. Requests are scheduled at `rate` per second whatever the answers do (open
loop), and spread over keep-alive connections; a request whose turn comes while every connection
still waits for an answer queues, and one still queued when the time is up is not sent. The
client is raw asyncio streams on uvloop: a full HTTP client would cost a good part of a core at
5,000 requests/s on a machine whose cores the pipeline needs.
"""

import asyncio
import time
from dataclasses import dataclass
from functools import cached_property

import orjson
import uvloop

__all__ = ["FAILED", "Load", "Marks", "send"]

CONNECTIONS = 64
FAILED = -1.0
"""`Marks.answered` of a request that got an answer other than 200."""
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)  # a browser's: a bot's user agent would send the event to the bots topic instead
_SLOT = "@@seq@@"
_TICK_S = 0.001


@dataclass(frozen=True)
class Load:
    port: int
    token: str
    prefix: str
    rate: float
    seconds: float

    @property
    def size(self) -> int:
        return int(self.rate * self.seconds)

    def request(self, seq: int) -> bytes:
        head, tail = self._body_parts
        body = b"%s%d%s" % (head, seq, tail)
        return b"%s%d\r\n\r\n%s" % (self._headers, len(body), body)

    @cached_property
    def _headers(self) -> bytes:
        return (
            f"POST /e HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: "
        ).encode()

    @cached_property
    def _body_parts(self) -> tuple[bytes, bytes]:
        body = orjson.dumps(
            {
                "projectToken": self.token,
                "name": "$pageview",
                "url": "https://example.com/a",
                "identifier": self.prefix + _SLOT,
            }
        )
        head, tail = body.split(_SLOT.encode())
        return head, tail


@dataclass
class Marks:
    """What happened to each request, by sequence number: 0.0 = not (yet)."""

    sent_wall: list[float]
    """`time.time()` when the request was written (the gateway's `received_at` comes after)."""
    answered: list[float]
    """`time.monotonic()` when its 200 arrived; `FAILED` for any other answer."""
    visible: list[float]
    """`time.monotonic()` of the first look that found its row (filled by the reader)."""

    @classmethod
    def sized(cls, n: int) -> "Marks":
        return cls([0.0] * n, [0.0] * n, [0.0] * n)

    def answered_ok(self) -> list[int]:
        return [seq for seq, at in enumerate(self.answered) if at > 0]


def send(load: Load, marks: Marks) -> float:
    """Send the load; return the seconds it lasted (its schedule, not the drain of answers)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_send(load, marks))


async def _send(load: Load, marks: Marks) -> float:
    streams = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", load.port) for _ in range(CONNECTIONS))
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.monotonic()
    deadline = start + load.seconds
    workers = [
        asyncio.create_task(_connection(reader, writer, load, queue, marks, deadline))
        for reader, writer in streams
    ]
    queued = 0
    try:
        while (now := time.monotonic()) < deadline:
            due = min(load.size, int((now - start) * load.rate) + 1)
            for seq in range(queued, due):
                queue.put_nowait(seq)
            queued = due
            await asyncio.sleep(_TICK_S)
        for _ in workers:
            queue.put_nowait(-1)
        await asyncio.gather(*workers)
    finally:
        for worker in workers:
            worker.cancel()
    return load.seconds


async def _connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    load: Load,
    queue: "asyncio.Queue[int]",
    marks: Marks,
    deadline: float,
) -> None:
    try:
        while (seq := await queue.get()) >= 0:
            if time.monotonic() >= deadline:
                continue  # its turn came but no connection was free in time: not sent
            marks.sent_wall[seq] = time.time()
            writer.write(load.request(seq))
            status = await _status(reader)
            marks.answered[seq] = time.monotonic() if status == 200 else FAILED
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise SystemExit(f"the gateway closed a connection: {exc!r}") from exc
    finally:
        writer.close()


async def _status(reader: asyncio.StreamReader) -> int:
    """Read one answer; return its status."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    if b"transfer-encoding: chunked" in head:
        raise SystemExit(f"a chunked answer, which this client does not read: {head!r}")
    at = head.find(b"content-length:")
    length = int(head[at + 15 : head.index(b"\r\n", at)]) if at >= 0 else 0
    if length:
        await reader.readexactly(length)
    return int(head[9:12])
