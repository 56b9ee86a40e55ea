"""Reading a request body safely: media type, size cap, gzip with a cap on the inflated size.

Everything here runs before a format sees the body, so a decompression bomb or a 50 MB upload is
refused (413) with at most `max_body_bytes` held in memory. A body too large is still read (and
dropped, up to `DRAIN_LIMIT_BYTES`) before the 413 goes out: most clients (Python's urllib,
requests) send the whole body without waiting for `100 Continue`, and a server that answers and
closes while they are still writing resets the connection, so they never see the 413.
"""

import re
import zlib
from collections.abc import AsyncIterator, Collection
from typing import Any, NoReturn

import orjson
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive

from gateway.errors import InvalidPayload, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "DRAIN_LIMIT_BYTES",
    "element_bytes",
    "parse_json",
    "properties_problem",
    "read_body",
    "receive_body",
]

# Past this, a too-large body is not read to its end: the connection is dropped instead.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024

# text/plain is what browsers send from sendBeacon and CORS-simple fetches; the body is still JSON.
_JSON_TYPES = ("application/json", "text/plain")
_GZIP_WINDOW = 16 + zlib.MAX_WBITS
_DEFLATE_WINDOW = zlib.MAX_WBITS
# A JSON string, or one of the characters that delimit an array's elements.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)
_OPEN, _CLOSE, _COMMA = frozenset(b"[{"), frozenset(b"]}"), ord(",")


async def read_body(request: Request, max_bytes: int, also: tuple[str, ...] = ()) -> bytes:
    """The decoded body, or a 413/415/400 error; `also`: media types accepted besides JSON."""
    return await _decoded_body(request.headers, b"", request.stream(), max_bytes, also)


async def receive_body(receive: Receive, headers: Headers, max_bytes: int) -> bytes:
    """`read_body` straight from the ASGI messages, for the ingest routes that have no
    Starlette `Request` (gateway/routing.py). Most bodies come whole in the first message: those
    are read without an async iterator."""
    first = await _message(receive)
    rest = _chunks(receive) if first.get("more_body", False) else None
    return await _decoded_body(headers, first.get("body", b""), rest, max_bytes, ())


async def _message(receive: Receive) -> Message:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    return message


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The body's chunks after the first message, as Starlette's `Request.stream()` yields them."""
    while True:
        message = await _message(receive)
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _decoded_body(
    headers: Headers,
    first: bytes,
    rest: AsyncIterator[bytes] | None,
    max_bytes: int,
    also: tuple[str, ...],
) -> bytes:
    """The body of `first` and the chunks of `rest` (None: there are none), decoded."""
    _check_media_type(headers.get("content-type"), also)
    declared = headers.get("content-length")
    size = len(first)
    declared_too_large = declared is not None and declared.isdigit() and int(declared) > max_bytes
    if declared_too_large or size > max_bytes:
        await _refuse_too_large(rest, size, max_bytes)
    chunks = [first]
    if rest is not None:
        async for chunk in rest:
            size += len(chunk)
            if size > max_bytes:
                await _refuse_too_large(rest, size, max_bytes)
            chunks.append(chunk)
    body = b"".join(chunks) if len(chunks) > 1 else first
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, _GZIP_WINDOW, max_bytes)
    if encoding == "deflate":
        return _inflate(body, _DEFLATE_WINDOW, max_bytes)
    raise UnsupportedMediaType.at("Content-Encoding", f"{encoding!r} is not gzip or deflate")


async def _refuse_too_large(
    rest: AsyncIterator[bytes] | None, read: int, max_bytes: int
) -> NoReturn:
    """Drop the rest of the body (see the module's docstring), then refuse it."""
    if rest is not None:
        async for chunk in rest:
            read += len(chunk)
            if read > DRAIN_LIMIT_BYTES:
                break
    raise PayloadTooLarge.at("body", f"larger than {max_bytes} bytes")


def _check_media_type(content_type: str | None, also: tuple[str, ...]) -> None:
    if content_type is None:  # curl --data-binary without -H; the body must still be JSON
        return
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type not in _JSON_TYPES + also and not media_type.endswith("+json"):
        raise UnsupportedMediaType.at("Content-Type", f"{media_type!r} is not application/json")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip() and charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType.at("Content-Type", "the body must be UTF-8 JSON")


def _inflate(body: bytes, window: int, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(window)
    try:
        inflated = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise InvalidPayload.at("body", f"cannot be decompressed: {exc}") from exc
    if len(inflated) > max_bytes:
        raise PayloadTooLarge.at("body", f"inflates to more than {max_bytes} bytes")
    if not inflater.eof or inflater.unused_data:
        raise InvalidPayload.at("body", "compressed stream is truncated or has trailing data")
    return inflated


def parse_json(body: bytes) -> Any:
    """orjson also rejects invalid UTF-8 and nesting deeper than 1024."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload.at("body", f"not valid JSON: {exc}") from exc


def properties_problem(properties: Any, max_depth: int, max_keys: int) -> str | None:
    """Why a property tree is too deep or too wide to store and query sensibly, or None.

    Walks level by level and only into containers, so flat properties (the common case) cost one
    pass over their values."""
    keys, depth, level = 0, 1, [properties]
    while level:
        below = []
        for container in level:
            if isinstance(container, dict):
                keys += len(container)
                container = container.values()
            below += [child for child in container if isinstance(child, dict | list)]
        if keys > max_keys:
            return f"more than {max_keys} keys"
        if below and depth >= max_depth:
            return f"nested deeper than {max_depth} levels"
        level, depth = below, depth + 1
    return None


def element_bytes(body: bytes, indices: Collection[int]) -> dict[int, bytes]:
    """The exact bytes of the elements at `indices` of `body`, a valid JSON array: one scan
    that stops after the last one wanted, paid only by bodies with elements set aside."""
    wanted, found = set(indices), {}
    last, depth, index, start = max(wanted), 0, 0, 0
    for match in _JSON_TOKEN.finditer(body):
        char = body[match.start()]
        if char in _OPEN:
            depth += 1
            start = match.end() if depth == 1 else start
            continue
        if char in _CLOSE:
            depth -= 1
        if not (depth == 0 or (depth == 1 and char == _COMMA)):
            continue  # a string, or inside an element
        if index in wanted:
            found[index] = body[start : match.start()].strip()
        if index >= last:
            break
        index, start = index + 1, match.end()
    return found
