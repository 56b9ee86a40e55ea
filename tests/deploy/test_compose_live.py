"""The ops path for real: build the images, `compose up`, every service healthy, events in the
three formats through HAProxy into ClickHouse, two gateway replicas sharing the traffic, a
crashed container brought back by its restart policy with nothing lost, volumes owned by the
image's user and kept across `down` / `up`, and nothing left behind after `down -v`.

The tests run in order on one stack (module scope): each step is the state the next one needs.
`make compose-e2e` runs this module alone.
"""

import socket
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import clickhouse_connect
import httpx2
import pytest

from tests.deploy.compose import LONG_RUNNING, Stack, require_containers
from tests.helpers import eventually

INGEST = "http://127.0.0.1:8080"  # HAProxy, as compose.yaml publishes it
CLICKHOUSE_PORT = 8123  # published on 127.0.0.1 for the operator
IMAGE_UID = 10001
TIMEOUT_S = 30  # a fresh broker's first writes wait for partition leaders


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_containers()
    require_free_ports(8080, CLICKHOUSE_PORT)
    running = Stack()
    running.compose("down", "--remove-orphans", "-v")  # a stack left by an interrupted run
    build_s = running.build()
    print(f"\nimages built in {build_s:.0f} s")
    try:
        yield running
    finally:
        running.down("-v")
        if running.anonymous:
            running.podman("volume", "rm", "-f", *running.anonymous)


@pytest.fixture(scope="module")
def keys(stack: Stack, healthy: float) -> dict[str, str]:
    """Keys of a project `shop`, made as compose.yaml's comment says."""

    def create(kind: str) -> str:
        out = stack.compose("run", "--rm", "gateway", "keys", "create", "shop", "--kind", kind)
        return out.strip().splitlines()[-1].strip()

    return {kind: create(kind) for kind in ("vemetric", "usermaven", "embeddables")}


@pytest.fixture(scope="module")
def healthy(stack: Stack) -> float:
    """`compose up -d`, then every long-running service healthy: the seconds it took."""
    started = time.monotonic()
    stack.up()
    wait_healthy(stack)
    seconds = time.monotonic() - started
    print(f"\ncompose up to every service healthy: {seconds:.0f} s")
    return seconds


def require_free_ports(*ports: int) -> None:
    """compose.yaml publishes these on the host: say so, rather than fail inside podman."""
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise AssertionError(
                    f"port {port} is in use on this host, and compose.yaml publishes it: stop "
                    "what listens there (a `make up`?) and run the tests again"
                )


def wait_healthy(stack: Stack, timeout: float = 300) -> None:
    for service in LONG_RUNNING:
        eventually(partial(stack.containers, service), timeout=timeout, what=f"{service} up")
        for container in stack.containers(service):
            eventually(partial(stack.healthy, container), timeout=timeout, what=container)


def clickhouse(stack: Stack) -> Any:
    return clickhouse_connect.get_client(
        host="127.0.0.1",
        port=CLICKHOUSE_PORT,
        username="headwater",
        password=stack.password,
        database="headwater",
    )


def count(stack: Stack, where: str) -> int:
    with clickhouse(stack) as client:
        return int(
            client.query(f"SELECT count() FROM events FINAL WHERE {where}").result_rows[0][0]
        )


def vemetric(token: str, marker: str) -> httpx2.Response:
    body = {"projectToken": token, "name": "$pageview", "url": f"https://shop.example/{marker}"}
    return httpx2.post(f"{INGEST}/e", json=body | {"identifier": marker}, timeout=TIMEOUT_S)


def test_every_service_becomes_healthy(stack: Stack, healthy: float) -> None:
    for one_shot in ("topics", "migrate"):
        [container] = stack.podman(
            "ps", "-a", "--format", "{{.Names}}", "--filter", f"name=headwater_{one_shot}_"
        ).split()
        state = stack.inspect(container)["State"]
        assert isinstance(state, dict) and state["ExitCode"] == 0, (one_shot, state)
    assert healthy < 300


def test_events_in_every_format_reach_clickhouse(stack: Stack, keys: dict[str, str]) -> None:
    marker = uuid.uuid4().hex
    entry = {"embeddable_id": "flow_1", "identifiers": [{"key": "email", "value": '"a@b.c"'}]}
    embeddables = {"X-Api-Key": keys["embeddables"]}

    def send_all() -> bool:  # keys reach the gateways within their reload interval
        answers = [
            vemetric(keys["vemetric"], marker),
            httpx2.post(
                f"{INGEST}/api/v1/s2s/event",
                params={"token": keys["usermaven"]},
                json={"event_type": marker, "user": {"id": "u1", "anonymous_id": "a1"}},
                timeout=TIMEOUT_S,
            ),
            httpx2.put(
                f"{INGEST}/projects/shop/entries",
                headers=embeddables,
                json=entry,
                timeout=TIMEOUT_S,
            ),
        ]
        return all(a.status_code < 300 for a in answers)

    eventually(send_all, timeout=30, what="the new keys accepted through HAProxy")
    event = entry | {"custom_event_name": f"e2e_{marker}", "timestamp": "2026-01-01T00:00:00Z"}
    sent = httpx2.post(
        f"{INGEST}/projects/shop/events", headers=embeddables, json=event, timeout=TIMEOUT_S
    )
    assert sent.status_code == 200, sent.text
    names = f"'{marker}', 'e2e_{marker}'"
    where = f"project_id = 'shop' AND (name IN ({names}) OR url LIKE '%{marker}%')"
    eventually(lambda: count(stack, where) >= 3, timeout=60, what="rows in ClickHouse")


def requests_by_replica(stack: Stack) -> dict[str, float]:
    """Each gateway replica's count of answered requests, from its own /metrics."""
    read = (
        "import urllib.request as u; "
        "print(u.urlopen('http://127.0.0.1:8080/metrics').read().decode())"
    )
    totals = {}
    for container in stack.containers("gateway"):
        text = stack.podman("exec", container, "python", "-c", read)
        lines = [x for x in text.splitlines() if x.startswith("headwater_gateway_requests_total")]
        totals[container] = sum(float(line.rsplit(" ", 1)[1]) for line in lines)
    return totals


def test_haproxy_spreads_requests_over_two_gateways(stack: Stack, keys: dict[str, str]) -> None:
    stack.up("--scale", "gateway=2")
    wait_healthy(stack)
    assert len(stack.containers("gateway")) == 2
    time.sleep(6)  # HAProxy's DNS hold (5 s) and its first check of the new replica
    before = requests_by_replica(stack)
    for _ in range(40):
        assert vemetric(keys["vemetric"], uuid.uuid4().hex).status_code == 200
    after = requests_by_replica(stack)
    served = {name: after[name] - before.get(name, 0) for name in after}
    assert all(n >= 5 for n in served.values()), served


def test_a_crashed_container_comes_back_and_nothing_is_lost(
    stack: Stack, keys: dict[str, str]
) -> None:
    [sink] = stack.containers("sink")
    restarts = stack.inspect(sink)["RestartCount"]
    marker = uuid.uuid4().hex
    sent = 0
    for index in range(60):
        if index == 20:
            pid = stack.inspect(sink)["State"]["Pid"]  # type: ignore[index]
            stack._run(["kill", "-9", str(pid)], timeout=10)  # a crash, not a `podman stop`
        sent += vemetric(keys["vemetric"], f"{marker}-{index}").status_code == 200
    assert sent == 60
    eventually(lambda: stack.inspect(sink)["RestartCount"] != restarts, timeout=60, what="restart")
    wait_healthy(stack)
    where = f"project_id = 'shop' AND url LIKE '%{marker}-%'"
    eventually(lambda: count(stack, where) == 60, timeout=120, what="every event once")


def volume_owner(stack: Stack, volume: str) -> int:
    mountpoint = stack.podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).strip()
    return Path(mountpoint).stat().st_uid


def test_volumes_are_the_images_user_and_survive_down_and_up(
    stack: Stack, keys: dict[str, str]
) -> None:
    assert volume_owner(stack, "headwater_projects") == IMAGE_UID
    [processors] = stack.containers("processors")
    mounts = stack.inspect(processors)["Mounts"]
    data = [m["Name"] for m in mounts if m["Destination"] == "/var/lib/headwater"]  # type: ignore[attr-defined]
    assert data and volume_owner(stack, data[0]) == IMAGE_UID
    rows = count(stack, "project_id = 'shop'")
    stack.down()
    assert stack.leftovers()["containers"] == []
    stack.up()
    wait_healthy(stack)
    assert count(stack, "project_id = 'shop'") == rows
    marker = uuid.uuid4().hex
    eventually(
        lambda: vemetric(keys["vemetric"], marker).status_code == 200,
        timeout=60,
        what="the projects volume's keys after down and up",
    )


def test_down_with_volumes_leaves_nothing(stack: Stack) -> None:
    stack.down("-v")
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
    # podman-compose leaves the image's anonymous volumes; an operator removes them so:
    stack.podman("volume", "rm", *stack.anonymous)
    remaining = set(stack.podman("volume", "ls", "--format", "{{.Name}}").split())
    assert remaining & stack.anonymous == set()
    stack.anonymous.clear()
