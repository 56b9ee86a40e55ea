"""What browsers need from the endpoints web pages call (the browser trackers'), and only those:
CORS, and answers to an OPTIONS request and to a prefetch that never reach Kafka.

The trackers send with credentials (XHR `withCredentials`, beacons) and custom headers (`Token`,
`Allow-Cookies`, `V-SDK`, ...), so every call from a page on another site is preflighted, and a
credentialed answer must name the page's origin, never `*`. As Vemetric's hub does, any origin is
answered here, with credentials allowed and whatever headers the preflight asks for: a tracker
version that adds a header keeps working. A project that lists `allowed_origins` is held to them
after authentication, in the gateway's request path (a preflight carries no credentials, so it
cannot know the project). Error answers carry the same headers, so a page's script can read why
it was refused (`X-Headwater-Error`).

Starlette's `CORSMiddleware` does the work; this only fixes its options, answers a successful
preflight with 204 No Content instead of 200 "OK", and passes a request without an `Origin`
straight through (a server's or a same-site call: not a page's cross-origin script, and a POST
answer no cache keeps, so there is no `Vary: Origin` to add), which keeps the backends' path as
cheap as it was.

A browser's speculative load (a prefetch or preview: `Purpose`, `X-Purpose`, `X-Moz`) is never a
real visit: it is answered 200 and nothing is recorded, as Vemetric's hub does. A plain OPTIONS
request (not a CORS preflight, which `BrowserCORS` answers) gets 204 with `Allow`.
"""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PREFLIGHT_MAX_AGE_S", "BrowserCORS", "is_prefetch", "options_answer"]

PREFLIGHT_MAX_AGE_S = 86_400  # browsers cap it lower (Chromium: 2 h); one preflight per page load
_EXPOSED = ("X-Headwater-Error", "Retry-After")
_BODY_HEADERS = frozenset({"content-length", "content-type"})
# How browsers mark a speculative load (Chromium, Safari; Firefox): never a real visit.
_PREFETCH_HEADERS = frozenset({b"purpose", b"x-purpose", b"x-moz"})
_PREFETCH_PURPOSES = frozenset({b"prefetch", b"preview"})


class BrowserCORS(CORSMiddleware):
    """Any origin, echoed, with credentials; POST; every requested header; 204 preflights."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app,
            allow_origins=["*"],
            allow_methods=["POST"],
            allow_headers=["*"],
            allow_credentials=True,
            allow_private_network=True,
            expose_headers=_EXPOSED,
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _has_origin(scope):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 200:
            return response
        headers = {k: v for k, v in response.headers.items() if k not in _BODY_HEADERS}
        return Response(status_code=204, headers=headers)


def _has_origin(scope: Scope) -> bool:
    # A plain loop, not any(<generator>): measured cheaper on a path every request takes.
    for name, _ in scope["headers"]:  # noqa: SIM110
        if name == b"origin":
            return True
    return False


def options_answer() -> Response:
    return Response(status_code=204, headers={"Allow": "OPTIONS, POST"})


def is_prefetch(headers: Headers) -> bool:
    """One pass over the raw headers: this runs on every browser request."""
    for name, value in headers.raw:
        if name in _PREFETCH_HEADERS and value.lower() in _PREFETCH_PURPOSES:
            return True
    return False
