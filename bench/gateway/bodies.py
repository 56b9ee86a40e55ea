"""The request bodies the gateway's benchmarks send: what the vendors' clients send, for the
development project (wrk's loads) or for the in-process driver's own project (instructions).

Only orjson is imported here: bench/gateway/in_process.py runs under callgrind, where every
import costs.
"""

import orjson

__all__ = [
    "API_KEY",
    "BULK_SIZE",
    "SERVER_TOKEN",
    "TOKEN",
    "in_process_requests",
    "vemetric_pageview",
]

TOKEN, API_KEY, SERVER_TOKEN = "proj_bench", "k1", "s1"
"""The in-process driver's project: its Vemetric token and Usermaven key."""
BULK_SIZE = 100


def vemetric_pageview(token: str) -> bytes:
    """A Vemetric `POST /e` body: one pageview of an identified user, as the SDKs send it."""
    return orjson.dumps(
        {
            "projectToken": token,
            "name": "$pageview",
            "url": "https://example.com/blog/article",
            "identifier": "user_123",
            "displayName": "john@example.com",
        }
    )


def in_process_requests() -> dict[str, tuple[str, bytes, bytes]]:
    """bench/gateway/in_process.py's cases: path, query string and body of each (the seed's
    pageview; a Usermaven bulk body of BULK_SIZE elements), for the project of `TOKEN`."""
    pageview = {
        "projectToken": TOKEN, "name": "$pageview", "url": "https://example.com/blog/article",
        "identifier": "user_123", "displayName": "john@example.com",
    }  # fmt: skip
    element = {
        "api_key": API_KEY, "event_id": "", "event_type": "plan_upgraded",
        "event_attributes": {"amount": 100, "currency": "USD"},
        "company": {"id": "65f02acc", "name": "Acme", "created_at": "2022-02-15T17:25:08"},
        "src": "http", "url": "http://localhost:3000/example", "doc_path": "/example",
    }  # fmt: skip
    bulk = [
        element | {"user": {"anonymous_id": f"anon{i}", "id": f"user{i}", "email": "u@a.example"}}
        for i in range(BULK_SIZE)
    ]
    token = f"token={API_KEY}.{SERVER_TOKEN}".encode()
    return {
        "single": ("/e", b"", orjson.dumps(pageview)),
        "bulk": ("/api/v1/s2s/event", token, orjson.dumps(bulk)),
    }
