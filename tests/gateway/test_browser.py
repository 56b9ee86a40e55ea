"""A browser's speculative loads, told apart from visits by their headers (the CORS answers are
tested against the running gateway: test_browser_live.py)."""

import pytest
from starlette.datastructures import Headers

from gateway.browser import is_prefetch


@pytest.mark.parametrize(
    ("name", "value"),
    [("Purpose", "prefetch"), ("X-Purpose", "preview"), ("X-Moz", "PREFETCH")],
)
def test_prefetches_and_previews_are_told_by_their_header(name: str, value: str) -> None:
    assert is_prefetch(Headers({"User-Agent": "Mozilla/5.0", name: value}))


def test_a_visit_is_no_prefetch() -> None:
    assert not is_prefetch(Headers({"User-Agent": "Mozilla/5.0", "Purpose": "navigate"}))
