"""Webhook requests: rendering a node's lines and placeholders, signing, delivery to the shipped
receiver over real HTTP on 127.0.0.1, what comes back (statuses, Retry-After, timeouts), the SSRF
guard, and the engine's settings for them."""

import asyncio
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from ipaddress import ip_address
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from aiohttp import web
from pydantic import ValidationError
from standardwebhooks import Webhook

from engine.settings import EngineSettings, signing_key_file
from engine.ssrf import AllowList
from engine.webhooks import (
    USER_AGENT,
    AttemptResult,
    WebhookSender,
    delivery_id,
    project_secret,
    render,
)
from headwater.receiver import Receiver, parse_script
from schemas.executions import Delivery

T = TypeVar("T")
KEY = "m" * 32
DATA = {"person_id": "p-1", "n": 3, "properties": {"plan": "pro", "seats": [5, 8]}, "ok": True}


def hook(**fields: str) -> dict[str, Any]:
    return {"id": "h", "type": "Webhook", "url": "https://example.com/hook"} | fields


def body(**fields: str) -> Any:
    return orjson.loads(render(hook(**fields), DATA, "e1", "p1").body)


def test_lines_skip_blanks_split_at_the_first_colon_and_the_last_repeat_wins() -> None:
    params = "b: 1\n\n  a :  http://x:8/y \r\nb: two\n"
    assert list(body(params=params).items()) == [("b", "two"), ("a", "http://x:8/y")]
    delivery = render(hook(headers="X-One: 1\n\nX-Two:  a: b "), DATA, "e1", "p1")
    assert delivery.headers == {"X-One": "1", "X-Two": "a: b"}
    assert render(hook(), DATA, "e1", "p1").body == "{}"


def test_a_whole_placeholder_keeps_its_json_type_and_a_missing_one_is_null() -> None:
    params = "n: {{ n }}\nprops: {{properties}}\nseat: {{ properties.seats.1 }}\nok: {{ ok }}\n"
    params += "gone: {{ properties.nope }}\ncode: {{ __class__ }}\nsum: {{ n + 1 }}"
    assert body(params=params) == {
        "n": 3, "props": DATA["properties"], "seat": 8, "ok": True, "gone": None, "code": None,
        "sum": None,
    }  # fmt: skip


def test_a_placeholder_inside_text_is_text_json_for_non_strings_and_empty_when_missing() -> None:
    params = "a: id {{ person_id }}!\nb: {{ n }}x\nc: {{ properties }};\nd: [{{ nope }}]"
    rendered = {"a": "id p-1!", "b": "3x", "c": '{"plan":"pro","seats":[5,8]};', "d": "[]"}
    assert body(params=params) == rendered


def test_url_values_are_percent_encoded_and_header_values_cannot_add_headers() -> None:
    data = {"id": "a/b c?d=1#e", "evil": "x\r\nX-Injected: 1"}
    node = hook(url="https://h.example/u/{{ id }}?q={{ nope }}", headers="X-A: {{ evil }}")
    delivery = render(node, data, "e1", "p1")
    assert delivery.url == "https://h.example/u/a%2Fb%20c%3Fd%3D1%23e?q="
    assert delivery.headers == {"X-A": "x  X-Injected: 1"}


def test_the_delivery_id_is_stable_per_execution_and_node() -> None:
    assert delivery_id("e1", "h") == render(hook(), {}, "e1", "p1").delivery_id
    assert delivery_id("e1", "h") == delivery_id("e1", "h")
    assert len({delivery_id("e1", "h"), delivery_id("e2", "h"), delivery_id("e1", "g")}) == 3


def test_each_project_has_its_own_secret_from_the_master_key() -> None:
    secret = project_secret(KEY, "p1")
    assert secret.startswith("whsec_") and secret == project_secret(KEY, "p1")
    assert secret not in (project_secret(KEY, "p2"), project_secret("n" * 32, "p1"))
    Webhook(secret)  # the library accepts it


# Real HTTP on 127.0.0.1: the sender against the shipped receiver.


@asynccontextmanager
async def sending(**settings: Any) -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(EngineSettings(**{"webhook_allow": ["127.0.0.1"]} | settings), KEY)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()


def exchange(
    run: Callable[[WebhookSender, Receiver, int], Awaitable[T]],
    script: str = "",
    **settings: Any,
) -> T:
    """`run` against the shipped receiver, following `script`."""

    async def go() -> T:
        receiver = Receiver(project_secret(KEY, "p1"), parse_script(script))
        async with sending(**settings) as sender, receiver:
            return await run(sender, receiver, await receiver.start())

    return asyncio.run(go())


@asynccontextmanager
async def serving(answer: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[int]:
    """A server answering POST /hook with `answer`, for what the receiver does not show."""
    app = web.Application()
    app.router.add_post("/hook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def delivery(port: int, url: str = "http://127.0.0.1:{port}/hook", **fields: str) -> Delivery:
    node = hook(url=url.format(port=port), params="plan: {{ properties.plan }}\nn: {{ n }}")
    return render(node | fields, DATA, "e1", "p1")


def test_a_delivery_is_verified_and_has_one_effect_however_often_it_is_sent() -> None:
    async def run(sender: WebhookSender, receiver: Receiver, port: int) -> Any:
        forged = "webhook-id: forged\nContent-Type: text/plain\nContent-Length: 1"
        sent = delivery(port, headers=forged)
        return [await sender.attempt(sent), await sender.attempt(sent)], receiver.deliveries

    results, deliveries = exchange(run)
    assert results == [AttemptResult(204, None, None)] * 2
    (only,) = deliveries.values()
    assert deliveries == {delivery(0).delivery_id: only}
    assert (only["attempts"], only["effects"], only["body"]) == (2, 1, {"plan": "pro", "n": 3})
    assert abs(only["timestamps"][0] - time.time()) < 5


def test_failures_come_back_with_their_status_and_retry_after() -> None:
    async def run(sender: WebhookSender, receiver: Receiver, port: int) -> list[AttemptResult]:
        return [await sender.attempt(delivery(port)) for _ in range(3)]

    failed, limited, landed = exchange(run, "500,429:2")
    assert failed == AttemptResult(500, "HTTP 500", None)
    assert limited == AttemptResult(429, "HTTP 429", "2")
    assert landed.status == 204


def test_an_answer_later_than_the_timeout_is_a_failed_attempt() -> None:
    async def run(sender: WebhookSender, receiver: Receiver, port: int) -> tuple[Any, float]:
        started = time.monotonic()
        return await sender.attempt(delivery(port)), time.monotonic() - started

    result, took = exchange(run, "hang:10", webhook_timeout_s=0.5)
    assert result == AttemptResult(None, "no answer within 0.5 s", None, refused=False)
    assert took < 3


def test_our_headers_replace_the_nodes_and_redirects_are_not_followed() -> None:
    seen: list[dict[str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(status=302, headers={"Location": "http://169.254.169.254/"})

    async def run() -> AttemptResult:
        async with sending() as sender, serving(answer) as port:
            node_headers = "Idempotency-Key: x\nuser-agent: y\nX-Mine: z"
            return await sender.attempt(delivery(port, headers=node_headers))

    result = asyncio.run(run())
    redirect = "HTTP 302: redirect to http://169.254.169.254/ not followed"
    assert result == AttemptResult(302, redirect, None)
    (headers,) = seen
    sent_id = delivery(0).delivery_id
    assert (headers["Idempotency-Key"], headers["webhook-id"]) == (sent_id, sent_id)
    assert (headers["User-Agent"], headers["X-Mine"]) == (USER_AGENT, "z")
    assert headers["Content-Type"] == "application/json"


def test_attempts_beyond_the_concurrency_wait_outside_the_timeout() -> None:
    in_flight, most = 0, 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.2)
        in_flight -= 1
        return web.Response(status=204)

    async def run() -> list[AttemptResult]:
        settings = {"webhook_concurrency": 2, "webhook_timeout_s": 0.5}
        async with sending(**settings) as sender, serving(answer) as port:
            return await asyncio.gather(*(sender.attempt(delivery(port)) for _ in range(6)))

    assert [r.status for r in asyncio.run(run())] == [204] * 6  # three rounds: 0.6 s > 0.5 s
    assert most == 2


# The SSRF guard. The receiver listens on 127.0.0.1 throughout: a target that were not refused
# would be reached; every refusal is immediate, not a timeout.

REFUSED = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://2130706433:{port}/hook",  # 127.0.0.1 spelled as one number
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "ftp://127.0.0.1:{port}/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_link_local_targets_are_refused_at_once(url: str) -> None:
    async def run(sender: WebhookSender, receiver: Receiver, port: int) -> Any:
        started = time.monotonic()
        result = await sender.attempt(delivery(port, url))
        return result, time.monotonic() - started, receiver.deliveries

    result, took, deliveries = exchange(run, webhook_allow=[])
    assert (result.status, result.refused, deliveries) == (None, True, {})
    assert took < 1


@pytest.mark.parametrize(
    ("allow", "host"), [("127.0.0.0/8", "127.0.0.1"), ("LOCALHOST", "localhost")]
)
def test_allow_listed_networks_and_names_are_reached(allow: str, host: str) -> None:
    async def run(sender: WebhookSender, receiver: Receiver, port: int) -> AttemptResult:
        return await sender.attempt(delivery(port, f"http://{host}:{{port}}/hook"))

    assert exchange(run, webhook_allow=[allow]).status == 204


def test_every_address_of_a_name_must_be_public_or_allowed() -> None:
    allow = AllowList.parse(["10.0.0.0/8", "Inside.Example."])
    public, private, inside = ip_address("93.184.215.14"), ip_address("10.1.2.3"), "inside.example"
    assert allow.refusal("h.example", [public]) is None
    assert allow.refusal("h.example", [public, private]) is None
    assert allow.refusal("h.example", [public, ip_address("192.168.1.1")]) is not None
    assert allow.refusal("h.example", [ip_address("ff0e::1")]) is not None  # multicast
    assert allow.refusal(inside, [ip_address("127.0.0.1")]) is None
    with pytest.raises(ValueError, match="not a network"):
        AllowList.parse(["10.0.0.0/33"])


# Settings


def test_the_allow_list_and_time_zone_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "HEADWATER_ENGINE_WEBHOOK_ALLOW", " 127.0.0.1, 10.0.0.0/8,,receiver.internal"
    )
    monkeypatch.setenv("HEADWATER_ENGINE_TIME_ZONE", "Europe/Berlin")
    settings = EngineSettings()
    assert settings.webhook_allow == ["127.0.0.1", "10.0.0.0/8", "receiver.internal"]
    assert settings.zone.key == "Europe/Berlin"
    for name, value in [("TIME_ZONE", "Mars/Base"), ("WEBHOOK_ALLOW", "10.0.0.0/33")]:
        with monkeypatch.context() as patched:
            patched.setenv(f"HEADWATER_ENGINE_{name}", value)
            with pytest.raises(ValidationError, match=f"HEADWATER_ENGINE_{name}"):
                EngineSettings()


def test_the_master_key_is_made_once_kept_private_and_a_configured_one_wins(
    tmp_path: Path,
) -> None:
    made = EngineSettings().signing_key_value(tmp_path)
    assert len(made) >= 32 and EngineSettings().signing_key_value(tmp_path) == made
    assert stat.S_IMODE(signing_key_file(tmp_path).stat().st_mode) == 0o600
    assert [p.name for p in signing_key_file(tmp_path).parent.iterdir()] == ["signing.key"]
    assert EngineSettings(signing_key=KEY).signing_key_value(tmp_path) == KEY
    with pytest.raises(ValidationError, match="at least 16"):
        EngineSettings(signing_key="short")
