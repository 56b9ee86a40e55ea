"""What the browser driver (browser.mjs) reports about one run of the test pages, read for the
tests: which calls a page made, which events they carried, and how the gateway answered.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = ["Visits", "calls", "cors_answer", "cors_complaints", "unanswered"]

CORS_WORDS = ("cors", "access-control", "blocked", "failed to load")
CORS_ANSWER = ("allow-origin", "allow-credentials", "max-age")
# Vemetric calls stored under a name their body does not carry, and the seed's names for the
# tracker's own event names.
VEMETRIC_PATHS = {"/i": "$identify", "/u": "$update_user", "/l": "$pageleave"}
VEMETRIC_NAMES = {"$$pageView": "$pageview", "$$outboundLink": "$outbound_link"}


@dataclass(frozen=True)
class Visits:
    """One run of every page: the run's marker, and what each page sent to the gateway."""

    marker: str
    company: str
    site: str  # the pages' origin
    report: dict[str, Any]

    def user(self, visit: str) -> str:
        """The user the page identifies its visitor as."""
        return f"{visit}-{self.marker}"

    def where(self, visit: str) -> str:
        """The visit's events: the page URL names the user (anonymous events included), and
        `/i` and `/u` calls, which have no URL, are the user's."""
        user = self.user(visit)
        return f"project_id = 'dev' AND (url LIKE '%user={user}%' OR user_id = '{user}')"

    def requests(self, visit: str) -> list[dict[str, Any]]:
        return list(self.report[visit]["requests"])

    def console(self, visit: str) -> list[dict[str, str]]:
        return list(self.report[visit]["console"])

    def sent(self, visit: str) -> Counter[str]:
        """The events the page sent, by the names they are stored under."""
        return Counter(name for r in self.requests(visit) for name in stored_names(r))


def stored_names(request: dict[str, Any]) -> list[str]:
    """The names the events of a request are stored under."""
    path = urlsplit(request["url"]).path
    if request["method"] != "POST" or path == "/r":
        return []
    if path in VEMETRIC_PATHS:
        return [VEMETRIC_PATHS[path]]
    if request["postData"] is None:
        return ["(a body the browser did not report)"]
    body = orjson.loads(request["postData"])
    events = body if isinstance(body, list) else [body]
    if path == "/e":
        return [VEMETRIC_NAMES.get(event["name"], event["name"]) for event in events]
    return [event["event_type"] for event in events]


def calls(requests: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["method"], urlsplit(r["url"]).path) for r in requests}


def unanswered(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests that failed, were redirected or got no 2xx answer. A beacon sent while the page
    is left may have no answer the browser can report: only a failure counts for it then."""
    return [
        {k: r.get(k) for k in ("method", "url", "type", "status", "failure", "responseHeaders")}
        for r in requests
        if r["failure"]
        or r["redirected"]
        or not (200 <= (r["status"] or 0) < 300 or (r["leaving"] and r["status"] is None))
    ]


def cors_complaints(console: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        m
        for m in console
        if m["type"] == "error" and any(w in m["text"].lower() for w in CORS_WORDS)
    ]


def cors_answer(request: dict[str, Any]) -> tuple[str | None, ...]:
    """The CORS headers of a request's answer: allowed origin, credentials, preflight max age."""
    headers = {k.lower(): v for k, v in (request.get("responseHeaders") or {}).items()}
    return tuple(headers.get(f"access-control-{name}") for name in CORS_ANSWER)
