"""`Idempotency-Key` on every POST: the first answer, stored, is every later answer.

As the seed says: keys are scoped to a path (and here to the project and environment), kept for
24 hours, and kept for good when they start with `life-`. The record lives with the definitions
(`headwater.workflows`), so any gateway process, and one restarted, answers a retry alike:

1. A request claims its key: a new idempotency record, "in progress", with a fingerprint of the
   request (the query and the body, byte for byte) and a lease. The replicas' rules let only one
   claim win, so two concurrent requests with one key run once.
2. The winner runs the request and completes the record with its answer (status and body). The
   loser, and every later retry, gets that answer back (`Idempotent-Replayed: true`); one still
   running is waited for, up to `wait_s`, then answered 409.
3. The same key with another body is a 422 naming the key.

Answers of 5xx are not kept (the claim is released), so a retry after an outage does the work. A
claim whose process died is taken over once its lease has run out.
"""

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from gateway.errors import Conflict, GatewayError, IdempotencyKeyReused
from gateway.workflows.auth import Caller
from gateway.workflows.writes import Writer, iso, new_id, now
from runtime.definitions import Stored, stale
from schemas.workflows import Change

__all__ = ["Answer", "Idempotency", "fingerprint"]

_LIFETIME = timedelta(hours=24)
_FOREVER_PREFIX = "life-"
_POLL_S = 0.05
_REQUEST_NAMESPACE = uuid.UUID("0f7d8b1e-2c54-4d0e-9a47-6b3c1f2e8d90")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    replayed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def fingerprint(query: bytes, body: bytes) -> str:
    return hashlib.sha256(query + b"\n" + body).hexdigest()


class Idempotency:
    def __init__(self, writer: Writer, lease_s: float, wait_s: float) -> None:
        self._writer = writer
        self._lease = timedelta(seconds=lease_s)
        self._wait_s = wait_s

    async def once(
        self,
        caller: Caller,
        path: str,
        key: str,
        print_: str,
        run: Callable[[str], Awaitable[Answer]],
    ) -> Answer:
        """`run(request_id)`'s answer, or the answer of the first request with this key.

        `request_id` is the same for every run with this key (a UUIDv5 of the project,
        environment, path and key): should a process die after recording a command and before
        completing the key, the request run again when the lease ends records the same id, which
        the engine counts once."""
        name = f"{path} {key}"
        claim = self._claim(key, print_)
        won = await self._writer.write(
            caller, "idempotency", name, lambda live: _unless(live, claim)
        )
        if won is None:
            return await self._stored_answer(caller, name, key, print_)
        try:
            answer = await run(_stable_id(caller, name))
        except GatewayError as error:
            if error.status >= 500:
                await self._release(caller, name, claim)
            raise
        await self._complete(caller, name, claim, answer)
        return answer

    def _claim(self, key: str, print_: str) -> Change:
        moment = now()
        expires = None if key.startswith(_FOREVER_PREFIX) else iso(moment + _LIFETIME)
        record = {
            "fingerprint": print_,
            "status": None,
            "body": None,
            "lease_until": iso(moment + self._lease),
            "expires_at": expires,
        }
        return Change(op="put", request_id=new_id(), at=moment, object=record)

    async def _stored_answer(self, caller: Caller, name: str, key: str, print_: str) -> Answer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while True:
            live = self._writer.live(caller, "idempotency", name)
            if live is not None:
                record = live.object
                if record["fingerprint"] != print_:
                    raise IdempotencyKeyReused.at(
                        "Idempotency-Key",
                        f"{key!r} was used on this path with another body; use a new key",
                    )
                if record["status"] is not None:
                    return Answer(record["status"], record["body"].encode(), replayed=True)
            if loop.time() > deadline:
                raise Conflict.at(
                    "Idempotency-Key", f"a request with {key!r} is still in progress; retry"
                )
            await asyncio.sleep(_POLL_S)

    async def _complete(self, caller: Caller, name: str, claim: Change, answer: Answer) -> None:
        assert claim.object is not None
        record = claim.object | {"status": answer.status, "body": answer.body.decode()}
        done = Change(op="put", request_id=new_id(), base=claim.request_id, at=now(), object=record)
        await self._writer.write(caller, "idempotency", name, _if_still_ours(claim, done))

    async def _release(self, caller: Caller, name: str, claim: Change) -> None:
        release = Change(op="delete", request_id=new_id(), base=claim.request_id, at=now())
        with contextlib.suppress(GatewayError):  # else the lease frees the key when it runs out
            await self._writer.write(caller, "idempotency", name, _if_still_ours(claim, release))


def _stable_id(caller: Caller, name: str) -> str:
    scope = f"{caller.project.id}/{caller.environment}/{name}"
    return str(uuid.uuid5(_REQUEST_NAMESPACE, scope))


def _unless(live: Stored | None, claim: Change) -> Change | None:
    """Claim the key unless a live record holds it (the replica still decides a race)."""
    return claim if live is None or stale(live, claim.at) else None


def _if_still_ours(claim: Change, change: Change) -> Callable[[Stored | None], Change | None]:
    """Complete or release our claim, unless another request took the key over meanwhile
    (after our lease ran out): its record is not ours to change."""
    return lambda live: change if live is not None and live.request_id == claim.request_id else None
