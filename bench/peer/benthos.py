"""Benthos v4.27.0, the compiled peer: built on first use, then run with bench/peer/benthos.yaml.

The build is a slim custom one (bench/peer/benthos/main.go: the pure, io and kafka component
bundles), pinned by the committed go.mod and go.sum and fetched through the Go module proxy into
the cache folder (`HEADWATER_CACHE_DIR`, ~/.cache/headwater): Go's module and build caches live
there too, so a fresh HOME builds it as well. The binary's name carries a digest of the sources,
so a changed main.go or go.sum is built again.
"""

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.environment import BenchEnvironment, progress, running, wait_ready
from gateway.settings import GatewaySettings
from runtime.settings import HeadwaterSettings

__all__ = ["BENTHOS_VERSION", "benthos_binary", "serving_benthos"]

BENTHOS_VERSION = "v4.27.0"
HERE = Path(__file__).resolve().parent
SOURCE = HERE / "benthos"
CONFIG = HERE / "benthos.yaml"


def benthos_binary() -> Path:
    """The binary of this source, built into the cache folder unless it is there already."""
    cache = HeadwaterSettings().cache_dir.expanduser().resolve() / f"benthos-{BENTHOS_VERSION}"
    binary = cache / f"benthos-{_source_digest()}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise SystemExit("the peer benchmark builds Benthos with Go 1.21 or later: install go")
    env = {
        **os.environ,
        "GOMODCACHE": str(cache / "gomod"),
        "GOCACHE": str(cache / "gocache"),
        "GOFLAGS": "-mod=readonly -trimpath -buildvcs=false",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    progress(f"building Benthos {BENTHOS_VERSION} into {cache} (once; a few minutes)")
    partial = binary.with_name(binary.name + ".partial")
    build = subprocess.run(
        [go, "build", "-o", str(partial), "."],
        cwd=SOURCE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        raise SystemExit(f"building Benthos failed:\n{build.stdout}{build.stderr}")
    partial.rename(binary)
    return binary


def _source_digest() -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    return digest.hexdigest()[:12]


@contextmanager
def serving_benthos(
    binary: Path, bench: BenchEnvironment, port: int, max_in_flight: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Benthos on `port` for the bench's project and broker, until the block ends; the block
    starts once its `/ready` answers 200 (the input listening, the output connected)."""
    credentials = bench.credentials
    env = {
        **os.environ,
        "PEER_ADDRESS": f"127.0.0.1:{port}",
        "PEER_BOOTSTRAP": bench.bootstrap,
        "PEER_PROJECT_ID": credentials.project_id,
        "PEER_VEMETRIC_TOKEN": credentials.vemetric_token,
        "PEER_USERMAVEN_TOKEN": credentials.usermaven_token,
        "PEER_MAX_BULK_EVENTS": str(GatewaySettings().max_bulk_events),
        "PEER_MAX_IN_FLIGHT": str(max_in_flight),
    }
    with running([str(binary), "-c", str(CONFIG)], env) as process:
        wait_ready(f"http://127.0.0.1:{port}/ready", process=process)
        yield process
