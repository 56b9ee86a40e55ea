"""A Webhook node's request: rendered once when the node is entered, signed and sent on each
attempt.

Rendering (`render`): the node's `headers` and `params` are lines of `key: value` (blank lines
skipped; split at the first ':', both sides stripped; a repeated key: the last wins). Headers
become the request's headers; params become a JSON object, the body, keys in line order. The one
templating is `{{ path }}`: a dotted path into the execution's merged data (`{{ person_id }}`,
`{{ properties.plan }}`, `{{ items.0 }}` for a list's first element), in a param value, a header
value or the URL; nothing else is evaluated. A param value that is exactly one placeholder takes
the value with its JSON type (number, object, ...), null when the path is missing; inside longer
text a value is interpolated as text (JSON for anything but a string), empty when missing. In the
URL each value is percent-encoded (a value cannot add a path segment, a query or a host); in a
header, control characters become spaces (a value cannot add a header). The rendered request is
stored with the execution, so every attempt sends the same bytes.

Sending (`WebhookSender.attempt`): a POST with the node's headers, then ours, which replace the
node's of the same name: `Content-Type: application/json`, `User-Agent`, `Idempotency-Key` and
the Standard Webhooks headers (`webhook-id`, the delivery id, the same on every attempt;
`webhook-timestamp`, the attempt's time; `webhook-signature`, made with the project's secret by
the `standardwebhooks` library). Redirects are not followed, and a 3xx is an answer like any
other: the guard checked the URL the author gave, and a receiver's redirect could point past it.
Proxies from the environment are not used, for the same reason.
"""

import asyncio
import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from standardwebhooks import Webhook
from yarl import URL

from engine.settings import EngineSettings
from engine.ssrf import AllowList, GuardedResolver, Refused, target_refusal
from schemas.executions import Delivery

__all__ = [
    "USER_AGENT",
    "AttemptResult",
    "WebhookSender",
    "delivery_id",
    "project_secret",
    "render",
]

USER_AGENT = "Headwater-Webhooks/0.1"
_NAMESPACE = uuid.UUID("3d9c6b1e-7f24-4a58-8e0d-5b2a91c4f7e3")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MISSING = object()
_DETAIL_BYTES = 200  # of an unsuccessful answer's body, kept as the attempt's error
# The client frames the body itself; a node's own framing headers could only break the request.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


def delivery_id(execution_id: str, node_id: str) -> str:
    """Stable per (execution, node): every attempt, and a dead letter's replay, carry it."""
    return str(uuid.uuid5(_NAMESPACE, f"{execution_id}:{node_id}"))


def project_secret(master_key: str, project_id: str) -> str:
    """The project's Standard Webhooks secret, derived from the master key: nothing to store per
    project, and `headwater webhooks secret` shows it."""
    digest = hmac.new(master_key.encode(), project_id.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def render(
    node: Mapping[str, Any], data: Mapping[str, Any], execution_id: str, project_id: str
) -> Delivery:
    params = {key: _param(value, data) for key, value in _lines(node.get("params"))}
    headers = {
        key: _CONTROL.sub(" ", _interpolate(value, data, str))
        for key, value in _lines(node.get("headers"))
    }
    return Delivery(
        delivery_id=delivery_id(execution_id, str(node["id"])),
        project_id=project_id,
        url=_interpolate(str(node.get("url") or ""), data, lambda text: quote(text, safe="")),
        headers=headers,
        body=orjson.dumps(params).decode(),
    )


def _lines(text: Any) -> Iterator[tuple[str, str]]:
    for line in text.split("\n") if isinstance(text, str) else ():
        key, _, value = line.partition(":")
        if line.strip():
            yield key.strip(), value.strip()


def _param(value: str, data: Mapping[str, Any]) -> Any:
    if whole := _PLACEHOLDER.fullmatch(value):
        found = _lookup(data, whole[1])
        return None if found is _MISSING else found
    return _interpolate(value, data, str)


def _interpolate(text: str, data: Mapping[str, Any], encode: Callable[[str], str]) -> str:
    return _PLACEHOLDER.sub(lambda match: encode(_text(_lookup(data, match[1]))), text)


def _text(found: Any) -> str:
    if found is _MISSING:
        return ""
    return found if isinstance(found, str) else orjson.dumps(found).decode()


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    found: Any = data
    for part in path.split("."):
        if isinstance(found, Mapping) and part in found:
            found = found[part]
        elif isinstance(found, list) and part.isdecimal() and int(part) < len(found):
            found = found[int(part)]
        else:
            return _MISSING
    return found


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one attempt ended. `refused`: the SSRF guard or a URL that cannot be requested; no
    later attempt could do better, so it is final."""

    status: int | None
    error: str | None
    retry_after: str | None
    refused: bool = False


class WebhookSender:
    """One HTTP client for every attempt of a worker, at most `webhook_concurrency` at once."""

    def __init__(self, settings: EngineSettings, master_key: str) -> None:
        self._timeout_s = settings.webhook_timeout_s
        self._concurrency = settings.webhook_concurrency
        self._allow = AllowList.parse(settings.webhook_allow)
        self._master_key = master_key
        self._session: aiohttp.ClientSession | None = None
        # Attempts beyond the limit wait here, outside the timeout: a busy sender must not fail
        # requests that never left (the connector's own queue would count against it).
        self._slots = asyncio.Semaphore(settings.webhook_concurrency)

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._concurrency, resolver=GuardedResolver(self._allow)
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                trust_env=False,
            )

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def attempt(
        self, delivery: Delivery, wanted: Callable[[], bool] = lambda: True
    ) -> AttemptResult | None:
        """Never raises for the network's or the receiver's trouble: that is an outcome. None
        when `wanted()`, asked once a connection slot is held and right before the request
        begins, says the attempt is no longer wanted (its execution was stopped meanwhile)."""
        assert self._session is not None, "start() the sender first"
        try:
            url = URL(delivery.url)
        except (ValueError, TypeError) as exc:
            return AttemptResult(None, f"{delivery.url!r} is not a URL: {exc}", None, True)
        if reason := target_refusal(url, self._allow):
            return AttemptResult(None, reason, None, True)
        async with self._slots:
            if not wanted():
                return None
            return await self._post(self._session, url, delivery)

    async def _post(
        self, session: aiohttp.ClientSession, url: URL, delivery: Delivery
    ) -> AttemptResult:
        try:
            async with session.post(
                url, data=delivery.body.encode(), headers=self._headers(delivery),
                allow_redirects=False,
            ) as response:  # fmt: skip
                detail = await response.content.read(_DETAIL_BYTES)
                return _answered(response, detail)
        except TimeoutError:
            return AttemptResult(None, f"no answer within {self._timeout_s:g} s", None)
        except aiohttp.InvalidURL as exc:  # what yarl parsed but the client will not request
            return AttemptResult(None, f"cannot request {delivery.url!r}: {exc}", None, True)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, Refused):
                return AttemptResult(None, str(exc.os_error), None, True)
            return AttemptResult(None, f"cannot connect: {exc}", None)
        except (aiohttp.ClientError, OSError) as exc:
            return AttemptResult(None, f"{type(exc).__name__}: {exc}", None)

    def _headers(self, delivery: Delivery) -> dict[str, str]:
        now = datetime.now(UTC).replace(microsecond=0)
        signer = Webhook(project_secret(self._master_key, delivery.project_id))
        ours = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": delivery.delivery_id,
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(delivery.delivery_id, now, delivery.body),
        }
        replaced = _FRAMING | {name.lower() for name in ours}
        node = {k: v for k, v in delivery.headers.items() if k.lower() not in replaced}
        return node | ours


def _answered(response: aiohttp.ClientResponse, detail: bytes) -> AttemptResult:
    status, retry_after = response.status, response.headers.get("Retry-After")
    if 200 <= status < 300:
        return AttemptResult(status, None, retry_after)
    if 300 <= status < 400:
        where = response.headers.get("Location", "nowhere")
        return AttemptResult(status, f"HTTP {status}: redirect to {where} not followed", None)
    text = detail.decode(errors="replace").strip()
    return AttemptResult(status, f"HTTP {status}" + (f": {text}" if text else ""), retry_after)
