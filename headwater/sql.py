"""`headwater sql` and `headwater migrate` against the configured ClickHouse.

An embedded store can be open in one process only; while a sink holds it, a query goes to that
sink's `/sql` endpoint instead (its address is in the data folder's `sink.json`), and migrations
are left to it: a sink applies them whenever it starts. Either way the answer is ClickHouse's own
readable table, unless the query names its FORMAT.
"""

import logging
import re
import time
import urllib.parse
import urllib.request
from urllib.error import HTTPError, URLError

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from headwater.errors import QueryFailed
from headwater.stack.process import pid_alive
from runtime.errors import HeadwaterError
from runtime.settings import ClickHouseSettings, HeadwaterSettings
from sinks.clickhouse.client import connect, connect_to_migrate
from sinks.clickhouse.migrate import migrate

__all__ = ["output_format", "run_migrations", "run_sql"]

log = logging.getLogger(__name__)

_HAS_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$", re.IGNORECASE)
_TERMINAL_FORMAT = "PrettyCompactMonoBlock"


def output_format(query: str) -> str | None:
    """The format to ask ClickHouse for: a table for the terminal, unless the query names one."""
    return None if _HAS_FORMAT.search(query) else _TERMINAL_FORMAT


def run_sql(query: str, settings: HeadwaterSettings, clickhouse: ClickHouseSettings) -> str:
    if clickhouse.embedded and (sink_url := _running_sink(settings)) is not None:
        return _via_sink(sink_url, query)
    client = connect(clickhouse, settings.data_dir)
    try:
        return client.raw_query(query, fmt=output_format(query)).decode()
    except Exception as exc:  # the driver's errors vary by interface; all mean "query failed"
        raise QueryFailed(str(exc)) from exc
    finally:
        client.close()


def run_migrations(
    settings: HeadwaterSettings, clickhouse: ClickHouseSettings, wait_s: float = 0
) -> list[str]:
    """Apply pending migrations; the names of those applied now. A server that does not answer
    is tried again for `wait_s` seconds."""
    if clickhouse.embedded and (sink_url := _running_sink(settings)) is not None:
        raise HeadwaterError(
            f"the sink at {sink_url} holds the embedded store and migrated it when it started"
        )
    client = _connected_to_migrate(settings, clickhouse, wait_s)
    try:
        return [f"{m.version:04d}_{m.name}" for m in migrate(client, clickhouse.cluster)]
    finally:
        client.close()


def _connected_to_migrate(
    settings: HeadwaterSettings, clickhouse: ClickHouseSettings, wait_s: float
) -> Client:
    """A client to migrate with, trying for `wait_s` while a server does not answer yet (or its
    database is still being made): `headwater migrate` may start beside the server, as compose
    runtimes that ignore `condition: service_healthy` (podman-compose) start it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return connect_to_migrate(clickhouse, settings.data_dir)
        except ClickHouseError as exc:
            if clickhouse.embedded or time.monotonic() > deadline:
                raise
            log.warning("clickhouse not ready; retrying", extra={"error": str(exc)})
            time.sleep(1)


def _running_sink(settings: HeadwaterSettings) -> str | None:
    try:
        holder = orjson.loads(settings.sink_holder_file.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return str(holder["url"]) if pid_alive(int(holder["pid"])) else None


def _via_sink(url: str, query: str) -> str:
    fmt = output_format(query)
    address = (
        f"{url}/sql" if fmt is None else f"{url}/sql?{urllib.parse.urlencode({'format': fmt})}"
    )
    request = urllib.request.Request(address, data=query.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(response.read().decode())
    except HTTPError as exc:
        raise QueryFailed(exc.read().decode(errors="replace")) from exc
    except URLError as exc:
        raise QueryFailed(f"the sink holding the embedded store did not answer: {exc}") from exc
