"""The vendor endpoints served by a plain ASGI callable in front of Starlette.

Every event arrives on one of these routes, so they skip Starlette's application and router
(server-error and exception middleware, matching every route in turn, a `Request` and its handler
wrapper): measured at a quarter of a single event's CPU. `IngestRouter` takes a request whose path
and method one of its routes accepts, matched with the route's own compiled path, the first route
in order winning, as Starlette's router would, and calls that route's app (its handler, inside
CORS for browser endpoints: both plain ASGI apps). Anything else, and the lifespan, goes to the
Starlette app behind it, which holds the same routes too: a wrong method is answered 405 there,
with `Allow`, exactly as before, and the Embed Workflow API, the OpenAPI document, health and
metrics are its own.
"""

import re

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["IngestRouter"]

Methods = dict[str, ASGIApp]


class IngestRouter:
    """`IngestRouter(routes, app)`: the routes, taken by their path and methods; `app` for
    everything else."""

    def __init__(self, routes: list[Route], app: ASGIApp) -> None:
        self.app = app
        self._paths: dict[str, Methods] = {}  # paths without parameters
        self._patterns: dict[str, tuple[re.Pattern[str], Methods]] = {}
        for route in routes:
            regex = route.path_regex
            if route.param_convertors:
                methods = self._patterns.setdefault(regex.pattern, (regex, {}))[1]
            else:
                methods = self._paths.setdefault(route.path, {})
            for method in route.methods or ():
                methods.setdefault(method, route.app)  # the first route matching wins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (app := self._route_app(scope)) is not None:
            await app(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _route_app(self, scope: Scope) -> ASGIApp | None:
        """The app of the route that takes the request, its path parameters set in `scope`."""
        path, method = scope["path"], scope["method"]
        methods = self._paths.get(path)
        if methods is not None:
            return methods.get(method)
        for regex, methods in self._patterns.values():
            if (found := regex.match(path)) is not None and method in methods:
                scope["path_params"] = found.groupdict()
                return methods[method]
        return None
