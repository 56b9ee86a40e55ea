"""A small webhook receiver, as a receiver should be written: it verifies each request's Standard
Webhooks signature and dedupes on `webhook-id`, so a delivery repeated by a retry or a replay has
one effect. `headwater webhooks receive` runs it for trying workflows out; the tests use it
in-process to count effects and attempts.

Every POST, at any path: a bad signature is refused with 401. A verified one counts as an attempt
of its `webhook-id`; then the next scripted answer, if any is left, is given (`500`, `429:2` with
`Retry-After: 2`, `hang:20`: no answer for 20 s, then 504), and the request has no effect;
otherwise it is answered 204, and reported if its id is new (one effect per id). `GET
/deliveries` shows, per id, its attempts, effects, body, and each attempt's `webhook-timestamp`
and arrival time.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

__all__ = ["Answer", "Receiver", "parse_script"]

Report = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Answer:
    """A scripted answer: this status (with this Retry-After), after hanging this long."""

    status: int
    retry_after: str | None = None
    hang_s: float = 0.0


def parse_script(text: str) -> list[Answer]:
    """`500,429:2,hang:20` -> the answers, in order. Raises ValueError naming a bad item."""
    answers = []
    for item in (part.strip() for part in text.split(",")):
        head, colon, argument = item.partition(":")
        if not item:
            continue
        if head == "hang":
            answers.append(Answer(504, hang_s=_seconds(argument, item)))
        elif head.isdigit() and 200 <= int(head) <= 599 and (argument or not colon):
            answers.append(Answer(int(head), argument or None))
        else:
            raise ValueError(f"{item!r}: expected STATUS, STATUS:RETRY_AFTER or hang:SECONDS")
    return answers


def _seconds(text: str, item: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise ValueError(f"{item!r}: hang:SECONDS needs a number of seconds")
    return seconds


class Receiver:
    """Verifies with `secret` (a `whsec_…` Standard Webhooks secret); `report` is told of each
    new delivery and each refused request."""

    def __init__(
        self, secret: str, script: Sequence[Answer] = (), report: Report | None = None
    ) -> None:
        self._verifier = Webhook(secret)
        self._script = deque(script)
        self._report = report or (lambda line: None)
        self.deliveries: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the port (`port` 0: any free one)."""
        app = web.Application()
        app.add_routes([web.get("/deliveries", self._list), web.post("/{path:.*}", self._receive)])
        # A hung answer must not hold up stop().
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> "Receiver":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _receive(self, request: web.Request) -> web.Response:
        body, now = await request.read(), _now()
        webhook_id = request.headers.get("webhook-id")
        try:
            self._verifier.verify(body, dict(request.headers), json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:
            self._report({"webhook_id": webhook_id, "received_at": now, "rejected": str(exc)})
            return web.Response(status=401, text=f"invalid signature: {exc}\n")
        assert webhook_id is not None, "verified, so present"
        delivery = self._attempted(webhook_id, now, body, request.headers["webhook-timestamp"])
        if self._script:
            return await _scripted(self._script.popleft())
        if not delivery["effects"]:
            delivery["effects"] = 1
            self._report({"webhook_id": webhook_id, "received_at": now, "body": delivery["body"]})
        return web.Response(status=204)

    def _attempted(self, webhook_id: str, now: str, body: bytes, timestamp: str) -> dict[str, Any]:
        delivery = self.deliveries.setdefault(
            webhook_id,
            {"attempts": 0, "first_at": now, "effects": 0, "body": _parsed(body), "timestamps": [],
             "arrivals": []},
        )  # fmt: skip
        delivery["attempts"] += 1
        delivery["last_at"] = now
        delivery["timestamps"].append(int(float(timestamp)))
        delivery["arrivals"].append(now)
        return delivery

    async def _list(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.deliveries), content_type="application/json")


async def _scripted(answer: Answer) -> web.Response:
    await asyncio.sleep(answer.hang_s)
    headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
    return web.Response(status=answer.status, headers=headers)


def _parsed(body: bytes) -> Any:
    """The body as JSON; as text if it is not JSON (it is signed, so it is what was sent)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace")


def _now() -> str:
    return datetime.now(UTC).isoformat()
