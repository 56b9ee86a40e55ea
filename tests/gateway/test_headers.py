"""The ingest routes' headers answer `get` as Starlette's do."""

from starlette.datastructures import Headers

from gateway.headers import RequestHeaders

RAW = [(b"content-type", b"application/json"), (b"token", b"t1"), (b"token", b"t2")]


def test_get_is_starlettes_without_its_exceptions() -> None:
    ours, theirs = RequestHeaders(raw=RAW), Headers(raw=RAW)
    for name in ("Content-Type", "token", "origin"):
        assert ours.get(name) == theirs.get(name)
    assert ours.get("origin", "none") == "none"
    assert ours.raw == RAW
