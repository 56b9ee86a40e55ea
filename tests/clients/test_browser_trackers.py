"""`@vemetric/web` and `@usermaven/sdk-js` in headless Chromium, on pages of another origin.

One browser launch visits the test pages (tests/clients/pages/: Vemetric's, and Usermaven's
with each of its transports); the DevTools protocol reports every request a page sent to the
gateway, CORS preflights and beacons included. The tests then check that the browser got its
answers, and that every call landed in ClickHouse under the right name, person and properties.
"""

import uuid
from collections import Counter
from dataclasses import replace
from urllib.parse import urlencode

import orjson
import pytest

from tests.clients.browser_report import Visits, calls, cors_answer, cors_complaints, unanswered
from tests.clients.conftest import run_node
from tests.clients.pages import SITE_HOST, serve_site
from tests.clients.warehouse import Warehouse, settled
from tests.pipeline import Pipeline

pytestmark = pytest.mark.integration

# The longest the driver waits for one step of a page (load, visit, leave, last answers), and so
# the longest a whole run of the pages may take.
BROWSER_TIMEOUT_MS = 15_000
# What a visitor's Chrome says, plus the run's marker: the gateway files "HeadlessChrome" under
# bots, and Vemetric's cookieless visitor id hashes the User-Agent, so each run is a new visitor.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/156.0.0.0 Safari/537.36 HeadwaterRun/{marker}"
)
# Where the visitors come from: Vemetric's tracker then adds a `V-Referrer` header to its calls.
REFERRER = "http://search.example/"


# Each visit: a page, and its query (the page server fills the page's placeholders from it).
VISITS = {
    "vemetric": ("vemetric.html", {}),
    "usermaven": ("usermaven.html", {"beacon": "false"}),  # the tracker's default: XHR
    "usermaven-beacon": ("usermaven.html", {"beacon": "true"}),  # its sendBeacon option
}
BROWSER_RUN_S = len(VISITS) * 4 * BROWSER_TIMEOUT_MS / 1000 + 30
# Where each page's tracker sends: every path is preflighted (XHR with custom headers, or a beacon
# of JSON), and then called.
PATHS = {"vemetric.html": ("/e", "/i", "/u", "/r", "/l"), "usermaven.html": ("/api/v1/event",)}
# Every kind of call a page makes, by the name it is stored under, and how often at least. The
# exact counts are what the browser sent: a tracker may add one at page leave (a `$scroll`).
CALLS = {
    "vemetric.html": {
        "$pageview": 2,  # `$$pageView` on load, and after history.pushState
        "signup_started": 1,
        "cta_clicked": 1,  # a data-vmtrc element clicked
        "$identify": 1,
        "$update_user": 2,
        "purchase": 1,
        "newsletter_shown": 1,  # sent by beacon
        "$outbound_link": 1,  # `$$outboundLink`, sent by beacon
        "$pageleave": 1,  # `/l`, by beacon when the page is left
    },  # `/r` (reset) stores nothing
    "usermaven.html": {
        "pageview": 3,  # on load, asked for, and after history.pushState
        "signup_started": 1,
        "user_identify": 2,
        "group": 1,
        "purchase": 1,
        "lead": 1,
        "$scroll": 1,  # past the 25 % milestone
        "$pageleave": 1,  # on history.pushState
    },
}


@pytest.fixture(scope="module")
def visits(pipeline: Pipeline, node: str, chromium: str) -> Visits:
    """Every page visited once, in one browser; its report is also kept beside the pipeline's
    logs (browser-report.json), with each request's headers, bodies and answers."""
    run = Visits(uuid.uuid4().hex[:12], str(uuid.uuid4()), "", {})
    values = {
        "gateway": pipeline.gateway,
        "token": pipeline.credentials.vemetric_token,
        "api_key": pipeline.credentials.usermaven_token.split(".", 1)[0],
        "company": run.company,
    }
    with serve_site(values) as site:
        config = {
            "chromium": chromium,
            "gateway": pipeline.gateway,
            "userAgent": USER_AGENT.format(marker=run.marker),
            "hostRules": f"MAP {SITE_HOST} 127.0.0.1",
            "timeoutMs": BROWSER_TIMEOUT_MS,
            "pages": [_page(site, run, name) for name in VISITS],
        }
        output = run_node(node, "browser.mjs", config, timeout=BROWSER_RUN_S)
    (pipeline.data_dir / "browser-report.json").write_text(output)
    return replace(run, site=site, report=orjson.loads(output))


def _page(site: str, run: Visits, name: str) -> dict[str, str]:
    page, query = VISITS[name]
    url = f"{site}/{page}?" + urlencode({"user": run.user(name), **query})
    return {"name": name, "url": url, "referer": REFERRER, "leaveTo": f"{site}/blank.html"}


@pytest.mark.parametrize("visit", list(VISITS))
def test_every_call_is_answered(visits: Visits, visit: str) -> None:
    requests = visits.requests(visit)
    assert unanswered(requests) == []
    assert cors_complaints(visits.console(visit)) == []
    paths = PATHS[VISITS[visit][0]]
    assert calls(requests) == {(method, path) for path in paths for method in ("OPTIONS", "POST")}


@pytest.mark.parametrize("visit", list(VISITS))
def test_preflights_allow_the_page_with_credentials_and_are_cached(
    visits: Visits, visit: str
) -> None:
    answers = {cors_answer(r) for r in visits.requests(visit) if r["method"] == "OPTIONS"}
    ages = {age for (_, _, age) in answers}
    assert {answer[:2] for answer in answers} == {(visits.site, "true")}, answers
    assert all(age and age.isdigit() and int(age) > 0 for age in ages), answers


@pytest.mark.parametrize("visit", list(VISITS))
def test_the_page_makes_every_kind_of_call(visits: Visits, visit: str) -> None:
    at_least = Counter(CALLS[VISITS[visit][0]])
    assert at_least - visits.sent(visit) == Counter()  # nothing missing


@pytest.mark.parametrize("visit", list(VISITS))
def test_every_event_sent_lands(visits: Visits, visit: str, warehouse: Warehouse) -> None:
    sent, where = visits.sent(visit), visits.where(visit)
    assert settled(lambda: Counter(warehouse.names(where)), sent) == sent


# @vemetric/web --------------------------------------------------------------------------------


def test_vemetric_tracker_events_belong_to_the_identified_visitor(
    visits: Visits, warehouse: Warehouse
) -> None:
    query = "SELECT resolved_person_id, count() FROM events_resolved WHERE {} GROUP BY 1"
    query = query.format(visits.where("vemetric"))
    expected = {visits.user("vemetric"): visits.sent("vemetric").total()}  # before identify too
    assert settled(lambda: dict(warehouse.rows(query)), expected) == expected


def test_vemetric_tracker_user_updates_reach_the_person(
    visits: Visits, warehouse: Warehouse
) -> None:
    expected = {
        "plan": "team",  # set on identify, then set again
        "first_plan": "pro",  # setOnce
        "displayName": "Ada",
        "avatarUrl": "https://example.org/ada.png",
        "buyer": True,  # userData sent with an event
    }  # "coupon": set on identify, then unset
    user = visits.user("vemetric")
    assert settled(lambda: warehouse.person(user), expected) == expected


def test_vemetric_tracker_headers_reach_the_context(visits: Visits, warehouse: Warehouse) -> None:
    query = "SELECT context FROM events FINAL WHERE {} AND name = '$pageview' ORDER BY event_time"
    rows = settled(lambda: warehouse.rows(query.format(visits.where("vemetric"))), 2, len)
    [first, _] = [context for (context,) in rows]
    assert {"script", "0.6.1", REFERRER} <= set(first.values()), first  # V-SDK, V-SDK-Version


def test_vemetric_tracker_event_data_is_stored(visits: Visits, warehouse: Warehouse) -> None:
    expected = {
        "signup_started": {"plan": "pro", "seats": "3"},
        "cta_clicked": {"place": "hero"},
        "purchase": {"amount": "12.5"},
        "newsletter_shown": {"variant": "b"},
        "$outbound_link": {"href": "https://example.org/pricing"},
    }
    query = "SELECT name, dimensions FROM events FINAL WHERE {} AND name IN {{names:Array(String)}}"
    query = query.format(visits.where("vemetric"))
    rows = settled(lambda: dict(warehouse.rows(query, names=list(expected))), expected)
    assert rows == expected


# @usermaven/sdk-js, with its default transport (XHR) and its beacon option ----------------------

USERMAVEN = pytest.mark.parametrize("visit", ["usermaven", "usermaven-beacon"])


@USERMAVEN
def test_usermaven_tracker_sends_arrays_and_single_objects(visits: Visits, visit: str) -> None:
    bodies = [orjson.loads(r["postData"]) for r in visits.requests(visit) if r["postData"]]
    assert {type(body).__name__ for body in bodies} == {"list", "dict"}


@USERMAVEN
def test_usermaven_identify_links_the_anonymous_visitor(
    visits: Visits, visit: str, warehouse: Warehouse
) -> None:
    query = (
        "SELECT resolved_person_id, countIf(user_id IS NULL), count()"
        f" FROM events_resolved WHERE {visits.where(visit)} GROUP BY 1"
    )
    sent = visits.sent(visit).total()
    expected = [(visits.user(visit), 2, sent)]  # the first pageview and signup_started: anonymous
    assert settled(lambda: warehouse.rows(query), expected) == expected


@USERMAVEN
def test_usermaven_tracker_properties_reach_person_and_event(
    visits: Visits, visit: str, warehouse: Warehouse
) -> None:
    user = visits.user(visit)
    expected = {
        "email": f"{user}@example.com",
        "created_at": "2024-01-01T00:00:00",
        "first_name": "Ada",
        "plan": "team",  # identified again with a new value
        "company": {"id": visits.company, "name": "Acme", "created_at": "2023-05-01T00:00:00"},
    }
    assert settled(lambda: warehouse.person(user), expected) == expected
    query = f"SELECT metrics, dimensions['currency'] FROM events FINAL WHERE {visits.where(visit)}"
    rows = warehouse.rows(query + " AND name = 'purchase'")
    assert rows == [({"amount": 12.5}, "EUR")]
