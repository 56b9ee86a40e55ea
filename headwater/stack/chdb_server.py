"""Serve the chdb engine (ClickHouse 26.x) over HTTP: `python -m headwater.stack.chdb_server DIR`.

chdb opens its HTTP listener only inside a one-shot `_chdb.query` call, so this process keeps one
such call running for as long as the server should live; SIGTERM ends it. DIR holds `config.xml`
(ports, listen address) and the server's data under `DIR/data`.
"""

import os
import sys

__all__ = ["serve"]

# The listener lives while this query runs: one row a second for ~30,000 years.
_SERVE_FOREVER = (
    "SYSTEM START LISTEN HTTP; "
    "SELECT sleepEachRow(1) FROM numbers(1000000000000) "
    "SETTINGS max_block_size = 1 FORMAT Null"
)


def serve(directory: str) -> None:
    os.chdir(directory)  # chdb reads ./config.xml
    from chdb import _chdb  # imported here: loading the engine is this process's whole job

    # TabSeparated becomes the HTTP default format; clickhouse-connect's handshake needs it.
    _chdb.query(_SERVE_FOREVER, "TabSeparated", path=os.path.join(directory, "data"))  # type: ignore[attr-defined]


if __name__ == "__main__":
    serve(sys.argv[1])
