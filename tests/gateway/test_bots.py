"""Known bots by User-Agent, except the HTTP client libraries backends send their events with."""

import pytest

from gateway.bots import is_bot


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    ],
)
def test_crawlers_are_bots(user_agent: str) -> None:
    assert is_bot(user_agent)


@pytest.mark.parametrize(
    "user_agent",
    ["", "curl/8.5.0", "python-requests/2.32", "axios/1.7.2", "Go-http-client/2.0"],
)
def test_people_and_http_client_libraries_are_not(user_agent: str) -> None:
    assert not is_bot(user_agent)
