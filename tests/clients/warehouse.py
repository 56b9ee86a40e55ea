"""What the client tests read back from ClickHouse, and how long they wait for it.

Each check polls until the stored answer equals the expected one, within a bounded wait, and
returns the last answer either way: the test's own `assert ==` then shows what differs, which
says more than "timed out".
"""

import time
from collections.abc import Callable
from typing import Any, TypeVar

import clickhouse_connect
import orjson

__all__ = ["Warehouse", "settled"]

T = TypeVar("T")

SETTLE_S = 20.0


def settled(
    fetch: Callable[[], T],
    expected: object,
    measure: Callable[[T], object] = lambda answer: answer,
    timeout: float = SETTLE_S,
) -> T:
    """`fetch()` once `measure` of it equals `expected`, or its last answer when `timeout` runs
    out."""
    deadline = time.monotonic() + timeout
    while measure(answer := fetch()) != expected and time.monotonic() < deadline:
        time.sleep(0.25)
    return answer


class Warehouse:
    """The session's ClickHouse, read as the README's queries read it (`events`, `persons`)."""

    def __init__(self, url: str) -> None:
        self._client = clickhouse_connect.get_client(dsn=url)

    def rows(self, query: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._client.query(query, parameters=parameters).result_rows]

    def names(self, where: str, **parameters: Any) -> dict[str, int]:
        """How many events of each name match `where` (FINAL: a replayed event counts once)."""
        query = f"SELECT name, count() FROM events FINAL WHERE {where} GROUP BY name"
        return dict(self.rows(query, **parameters))  # type: ignore[arg-type]

    def person(self, person_id: str, project_id: str = "dev") -> dict[str, Any]:
        """A person's current properties from the `persons` view, values decoded from JSON."""
        query = (
            "SELECT properties FROM persons"
            " WHERE project_id = {project:String} AND person_id = {person:String}"
        )
        found = self.rows(query, project=project_id, person=person_id)
        return {k: orjson.loads(v) for k, v in found[0][0].items()} if found else {}
