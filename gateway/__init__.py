"""The HTTP gateway: vendor formats in, normalised records out to Kafka, answered honestly.

Where each concern lives:
- `app.py`: the ASGI app (routes, CORS on browser routes, the lifespan); `asgi.py`: its factory.
- `ingest.py`: the one request path every endpoint takes, in order; `auth.py`: credentials to
  projects; `records.py`: the topic and key of every record; `browser.py`: CORS, prefetches.
- `formats/`: the vendors, each a pure translation (`formats/__init__.py` is the contract).
- `body.py` (size, gzip, media type), `validation.py` (models, limits), `errors.py` (every refusal
  and its status), `ratelimit.py`, `bots.py`, `projects.py` (the projects file and its keys).
- `publisher.py` (Kafka, acks), `entry_replica.py` (the entries topic, behind ENTRY_NOT_FOUND),
  `metrics.py`, `settings.py`, `openapi.py` (the document `openapi.json`, kept in sync by a test).
"""

__all__: list[str] = []
