"""Known bots, by User-Agent, from crawlerdetect (a Python port of the maintained CrawlerDetect
pattern list).

Vemetric's API is also meant for backends, so the HTTP client libraries that list counts as bots
(curl, python-requests, axios, Go's net/http, ...) are not treated as bots here: a server sending
its users' events through them is the documented use. Results are cached per User-Agent because
the pattern list is one large regular expression (about 0.2 ms per check) and user agents repeat.
"""

import re
from functools import lru_cache

from crawlerdetect import CrawlerDetect

__all__ = ["is_bot"]

_HTTP_CLIENTS = re.compile(
    r"curl|wget|python-requests|python-httpx|python-urllib|aiohttp|axios|node-fetch|undici|got"
    r"|go-http-client|okhttp|java|ruby|guzzlehttp|postmanruntime|insomnia|httpie|libwww-perl|php",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _detector() -> CrawlerDetect:
    return CrawlerDetect()  # compiles the pattern list: on first use, not at import


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    detector = _detector()
    if not user_agent or not detector.isCrawler(user_agent):
        return False
    match = (detector.getMatches() or "").strip("/ ")
    return _HTTP_CLIENTS.fullmatch(match) is None
