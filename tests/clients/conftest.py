"""The vendors' own client libraries against the session's pipeline, changed only in their host.

Node.js, the pinned npm packages (tests/clients/package-lock.json) and Debian's Chromium are
installed by `make clients` (a prerequisite of `make test`, see tests/clients/setup.sh). A test
that needs one of them and does not find it fails and says what to run: it never skips.
"""

import os
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import orjson
import pytest
import trustme

from headwater.stack.process import log_tail
from tests.clients.warehouse import Warehouse
from tests.helpers import eventually, headwater, stop
from tests.pipeline import Pipeline
from tests.services import free_port

__all__ = ["CLIENTS", "Tls", "run_node"]

CLIENTS = Path(__file__).parent
INSTALLED = CLIENTS / "node_modules" / ".installed"
SET_UP = "run `make clients` (tests/clients/setup.sh) from the repository root"


@dataclass(frozen=True)
class Tls:
    """A throwaway CA, and the certificate and key it issued for 127.0.0.1 and localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="session")
def node() -> str:
    """Node.js with the pinned npm packages installed."""
    path = shutil.which("node")
    if path is None:
        pytest.fail(f"tests/clients needs Node.js 18+ on PATH (Debian: nodejs npm); then {SET_UP}")
    if not INSTALLED.exists():
        pytest.fail(f"the npm packages of tests/clients are not installed: {SET_UP}")
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (or the one $CHROMIUM names), for the browser trackers."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(f"tests/clients needs Chromium (Debian: apt-get install chromium): {SET_UP}")
    return path


@pytest.fixture(scope="session")
def warehouse(clickhouse_url: str) -> Warehouse:
    return Warehouse(clickhouse_url)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """Made afresh each session (trustme): no key or certificate lives in the repository."""
    folder = tmp_path_factory.mktemp("tls")
    files = Tls(folder / "ca.pem", folder / "gateway.pem", folder / "gateway.key")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    authority.cert_pem.write_to_path(str(files.ca_file))
    issued.private_key_pem.write_to_path(str(files.key_file))
    for index, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(files.cert_file), append=index > 0)
    return files


@pytest.fixture(scope="session")
def tls_gateway(pipeline: Pipeline, tls: Tls) -> Iterator[str]:
    """A second gateway beside the pipeline's, serving HTTPS with the test certificate: the
    Vemetric Node SDK speaks only https. Same projects, same Kafka, so its events land too."""
    port = free_port()
    env = pipeline.env | {
        "HEADWATER_GATEWAY_PORT": str(port),
        "HEADWATER_GATEWAY_TLS_CERT_FILE": str(tls.cert_file),
        "HEADWATER_GATEWAY_TLS_KEY_FILE": str(tls.key_file),
    }
    log = pipeline.data_dir / "gateway-tls.log"
    process = headwater("gateway", env=env, log=log)
    url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(tls.ca_file))

    def ready() -> bool:
        assert process.poll() is None, f"the TLS gateway exited:\n{log_tail(log)}"
        return _https_ok(f"{url}/readyz", context)

    try:
        eventually(ready, timeout=30, what=f"{url}/readyz (log: {log})")
        yield url
    finally:
        stop(process)


def _https_ok(url: str, context: ssl.SSLContext) -> bool:
    """Ready over TLS; not yet listening is False, listening without TLS a failure."""
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:
            return bool(response.status == 200)
    except URLError as exc:
        assert not isinstance(exc.reason, ssl.SSLError), f"{url} does not speak TLS: {exc.reason}"
        return False
    except OSError:
        return False


def run_node(
    node: str, script: str, config: object, env: dict[str, str] | None = None, timeout: float = 60
) -> str:
    """Run tests/clients/`script` with `config` as its JSON argument; its stdout, or a failure
    carrying its stderr (the SDKs report their own errors there)."""
    done = subprocess.run(
        [node, str(CLIENTS / script), orjson.dumps(config).decode()],
        cwd=CLIENTS,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout
