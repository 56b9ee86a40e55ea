"""A web site for the browser trackers: the test pages and the trackers' bundles, over HTTP.

Served from another origin than the gateway, as a customer's site is: the trackers then make
cross-origin calls (CORS preflights included), and `@vemetric/web` stays silent on `localhost`
and `127.0.0.1`, so the browser reaches this server under a made-up name (SITE_HOST, mapped to
127.0.0.1 by the browser's host resolver rules, see browser.mjs).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["SITE_HOST", "serve_site"]

CLIENTS = Path(__file__).parent
PAGES = CLIENTS / "pages"
SITE_HOST = "shop.headwater.test"
# What the site serves besides its pages: the trackers' browser bundles, nothing else.
BUNDLES = ("/node_modules/@vemetric/web/dist/", "/node_modules/@usermaven/sdk-js/dist/")


class _Site(SimpleHTTPRequestHandler):
    """Pages with their {{placeholders}} filled in from the site's values and the page's query
    (`?user=...`); the trackers' bundles as files; 404 for the rest."""

    def __init__(self, *args: Any, values: dict[str, str], **kwargs: Any) -> None:
        self.values = values
        super().__init__(*args, directory=str(CLIENTS), **kwargs)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        page = PAGES / path.lstrip("/")
        if path.endswith(".html") and page.parent == PAGES and page.is_file():
            self._send_page(page)
        elif path.startswith(BUNDLES) and ".." not in path:
            super().do_GET()
        elif path == "/favicon.ico":  # asked for by every page: no 404 in the browser's console
            self.send_response(204)
            self.end_headers()
        else:
            self.send_error(404)

    def _send_page(self, page: Path) -> None:
        html = page.read_text()
        query = dict(parse_qsl(urlsplit(self.path).query))
        for name, value in (self.values | query).items():
            html = html.replace("{{" + name + "}}", value)
        body = html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the browser driver reports what matters."""


@contextmanager
def serve_site(values: dict[str, str]) -> Iterator[str]:
    """The site's base URL (`http://SITE_HOST:port`) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Site, values=values))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{SITE_HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
