"""A real ClickHouse 26.x HTTP server on this machine, from the pinned `chdb-core` wheel.

Used when `HEADWATER_CLICKHOUSE_MODE=server` (and by the test suite): any ClickHouse client can
talk to it, and it keeps its data under the data folder across restarts.
"""

import sys
import urllib.request
from urllib.error import URLError

from headwater.stack.process import ManagedProcess
from runtime.settings import ClickHouseSettings, HeadwaterSettings
from sinks.clickhouse.client import require_engine

__all__ = ["LocalClickHouse", "ping"]


def ping(url: str) -> bool:
    """True when a ClickHouse server answers `GET /ping` at `url`."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ping", timeout=1) as response:
            return bool(response.read().strip() == b"Ok.")
    except (URLError, OSError):
        return False


class LocalClickHouse:
    """The local ClickHouse server process."""

    def __init__(self, settings: HeadwaterSettings, clickhouse: ClickHouseSettings) -> None:
        self._clickhouse = clickhouse
        self.home = settings.data_dir.resolve() / "clickhouse-server"
        self.process = ManagedProcess(
            name="clickhouse",
            argv=[sys.executable, "-m", "headwater.stack.chdb_server", str(self.home)],
            workdir=self.home,
            is_ready=lambda: ping(clickhouse.server_url),
            startup_timeout=60.0,
        )

    def start(self) -> bool:
        """Start unless already running; True if this call started it."""
        require_engine()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "config.xml").write_text(self._config_xml())
        return self.process.start()

    def stop(self) -> bool:
        return self.process.stop()

    def _config_xml(self) -> str:
        return (
            "<clickhouse>"
            f"<http_port>{self._clickhouse.http_port}</http_port>"
            f"<tcp_port>{self._clickhouse.tcp_port}</tcp_port>"
            "<listen_host>127.0.0.1</listen_host>"
            "</clickhouse>\n"
        )
