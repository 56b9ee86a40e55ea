"""`headwater webhooks receive` as a user runs it: a subprocess on a free port that verifies
signatures, prints each new delivery once, refuses forgeries and follows its script; and
`headwater webhooks secret`, the same secret the engine signs with."""

import http.client
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from standardwebhooks import Webhook

from engine.settings import EngineSettings
from engine.webhooks import project_secret
from tests.helpers import environment, eventually, run_headwater
from tests.services import free_port

HEADWATER = str(Path(sys.executable).with_name("headwater"))  # the installed console script
SECRET = project_secret("m" * 32, "p1")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def receive(data_dir: Path, *options: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    child = subprocess.Popen(
        [HEADWATER, "webhooks", "receive", "--port", str(port), *options],
        env=environment({"HEADWATER_DATA_DIR": str(data_dir)}, ("HEADWATER_ENGINE_SIGNING_KEY",)),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    eventually(lambda: child.poll() is not None or _listening(port), 20, "the receiver")
    assert child.poll() is None, child.communicate()
    return child, port


def _listening(port: int) -> bool:
    try:
        return _request(port, "GET", "/deliveries")[0] == 200
    except OSError:
        return False


def _request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post(port: int, webhook_id: str, payload: dict[str, Any], secret: str = SECRET) -> Any:
    body = orjson.dumps(payload).decode()
    now = datetime.now(UTC).replace(microsecond=0)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "Content-Type": "application/json",
    }
    return _request(port, "POST", "/hook", body.encode(), headers)


def stopped(child: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    """The lines it printed, once it is stopped."""
    child.terminate()
    out, _ = child.communicate(timeout=10)
    return (orjson.loads(line) for line in out.splitlines())


def test_deliveries_are_printed_once_forgeries_refused_and_the_script_followed(
    data_dir: Path,
) -> None:
    child, port = receive(data_dir, "--secret", SECRET, "--script", "500,429:2")
    try:
        forged = post(port, "d-1", {"a": 1}, project_secret("n" * 32, "p1"))
        answers = [post(port, "d-1", {"a": 1}) for _ in range(4)]
        listed = _request(port, "GET", "/deliveries")[2]
    finally:
        lines = list(stopped(child))
    assert forged[0] == 401
    assert [a[0] for a in answers] == [500, 429, 204, 204]
    assert answers[1][1]["Retry-After"] == "2"
    (delivery,) = orjson.loads(listed).values()
    assert (delivery["attempts"], delivery["effects"], delivery["body"]) == (4, 1, {"a": 1})
    assert len(delivery["timestamps"]) == 4
    assert [line.get("webhook_id") for line in lines] == ["d-1", "d-1"]
    assert lines[0]["rejected"] == "No matching signature found"
    assert (lines[1]["body"], "rejected" in lines[1]) == ({"a": 1}, False)


def test_a_project_is_verified_with_the_secret_the_engine_signs_with(data_dir: Path) -> None:
    env = environment({"HEADWATER_DATA_DIR": str(data_dir)}, ("HEADWATER_ENGINE_SIGNING_KEY",))
    printed = run_headwater("webhooks", "secret", "p1", env=env).strip()
    assert printed == project_secret(EngineSettings().signing_key_value(data_dir), "p1")
    child, port = receive(data_dir, "--project", "p1")
    try:
        assert post(port, "d-2", {"b": 2}, printed)[0] == 204
        assert post(port, "d-3", {"b": 3}, project_secret(printed, "p1"))[0] == 401
    finally:
        assert [line.get("body") for line in stopped(child)] == [{"b": 2}, None]


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (("--script", "500,oops"), "'oops': expected STATUS"),
        (("--project", "p1", "--secret", SECRET), "not both"),
        (("--secret", "whsec_"), "not a whsec_ secret"),
    ],
)
def test_bad_options_are_refused(data_dir: Path, options: tuple[str, ...], complaint: str) -> None:
    done = subprocess.run(
        [HEADWATER, "webhooks", "receive", "--port", str(free_port()), *options],
        env=environment({"HEADWATER_DATA_DIR": str(data_dir)}),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and complaint in done.stderr, done.stderr
