"""The vendors' server SDKs against the pipeline: PyPI `vemetric` and `usermaven`, and npm
`@vemetric/node` over the gateway's own TLS. Each is changed only in its host setting.

The SDKs log a refused call and carry on, so the tests watch what came back to them (requests'
response hooks, the Usermaven client's `on_error`, the Node SDK's console) as well as what
landed in ClickHouse.
"""

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import requests
import usermaven.request
from usermaven import Client as UsermavenClient
from vemetric import VemetricClient

from tests.clients.conftest import Tls, run_node
from tests.clients.warehouse import Warehouse, settled
from tests.pipeline import Pipeline

pytestmark = pytest.mark.integration

# One Vemetric scenario for both server SDKs: an event that sets person properties, a plain
# event, then an update that changes, keeps (setOnce) and removes (unset) some of them.
AVATAR = "https://example.org/ada.png"
SIGNUP_DATA = {"plan": "pro", "seats": 3}
FIRST_USER_DATA = {"set": {"plan": "pro", "coupon": "SPRING"}, "setOnce": {"first_plan": "pro"}}
LATER_USER_DATA = {"set": {"plan": "team"}, "setOnce": {"first_plan": "team"}, "unset": ["coupon"]}
VEMETRIC_NAMES = {"signup": 1, "report_exported": 1, "$update_user": 1}
VEMETRIC_PERSON = {
    "plan": "team",  # set, then set again
    "first_plan": "pro",  # setOnce, then setOnce again
    "displayName": "Ada L.",
    "avatarUrl": AVATAR,
}  # "coupon": set, then unset
# The Usermaven SDK's identify: required attributes, custom ones, and a company with a numeric id.
USERMAVEN_USER = {"email": "ada@example.com", "created_at": "2024-01-01", "custom": {"plan": "pro"}}
USERMAVEN_COMPANY = {
    "id": 7,
    "name": "Acme",
    "created_at": "2023-05-01",
    "custom": {"tier": "gold"},
}


@contextmanager
def responses(session: requests.Session) -> Iterator[list[requests.Response]]:
    """Every response `session` receives while the block runs (the SDKs hide refusals)."""
    seen: list[requests.Response] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(response)

    session.hooks["response"].append(record)
    try:
        yield seen
    finally:
        session.hooks["response"].remove(record)


def refused(seen: list[requests.Response]) -> list[tuple[str, int, str]]:
    """Responses that were not a direct 2xx: errors, and redirects (a redirect can carry the
    token to another scheme or host, and breaks behind proxies)."""
    return [
        (r.url, r.status_code, r.text[:300])
        for r in seen
        if not 200 <= r.status_code < 300 or r.history
    ]


def assert_vemetric_scenario_landed(warehouse: Warehouse, user: str, sdk: str) -> None:
    where = "project_id = 'dev' AND user_id = {user:String}"
    names = settled(lambda: warehouse.names(where, user=user), VEMETRIC_NAMES)
    assert names == VEMETRIC_NAMES
    assert settled(lambda: warehouse.person(user), VEMETRIC_PERSON) == VEMETRIC_PERSON
    query = f"SELECT dimensions, context FROM events FINAL WHERE {where} AND name = 'signup'"
    [(dimensions, context)] = warehouse.rows(query, user=user)
    assert dimensions == {"plan": "pro", "seats": "3"}  # Vemetric stores custom data as strings
    assert sdk in context.values(), context  # the V-SDK header


def test_vemetric_python_sdk(pipeline: Pipeline, warehouse: Warehouse) -> None:
    user = f"py-{uuid.uuid4().hex[:12]}"
    session = requests.Session()
    client = VemetricClient(token=pipeline.token, host=pipeline.gateway, session=session)
    with responses(session) as seen:
        client.track_event(
            "signup", user_identifier=user, event_data=SIGNUP_DATA,
            user_data=FIRST_USER_DATA, user_display_name="Ada",
        )  # fmt: skip
        client.track_event("report_exported", user_identifier=user, event_data={"rows": 120})
        client.update_user(
            user, user_display_name="Ada L.", user_avatar_url=AVATAR, user_data=LATER_USER_DATA
        )
    assert (len(seen), refused(seen)) == (3, [])
    assert_vemetric_scenario_landed(warehouse, user, "python")


def test_vemetric_node_sdk_over_tls(
    tls_gateway: str, tls: Tls, node: str, pipeline: Pipeline, warehouse: Warehouse
) -> None:
    user = f"node-{uuid.uuid4().hex[:12]}"
    signup = {"userIdentifier": user, "userDisplayName": "Ada", "eventData": SIGNUP_DATA}
    calls = [
        ["trackEvent", "signup", signup | {"userData": FIRST_USER_DATA}],
        ["trackEvent", "report_exported", {"userIdentifier": user, "eventData": {"rows": 120}}],
        [
            "updateUser",
            {
                "userIdentifier": user,
                "userDisplayName": "Ada L.",
                "userAvatarUrl": AVATAR,
                "userData": LATER_USER_DATA,
            },
        ],
    ]
    config = {"host": tls_gateway, "token": pipeline.token, "calls": calls}
    run_node(node, "vemetric_node.mjs", config, env={"NODE_EXTRA_CA_CERTS": str(tls.ca_file)})
    assert_vemetric_scenario_landed(warehouse, user, "node")


@dataclass(frozen=True)
class UsermavenRun:
    """What the Usermaven SDK was asked to send, and what it got back."""

    numeric_id: int  # the SDK takes numbers and UUIDs as ids: stored as their string form
    uuid_id: uuid.UUID
    errors: list[str]  # reported through the client's on_error
    seen: list[requests.Response]

    def where(self) -> str:
        return f"project_id = 'dev' AND user_id IN ('{self.numeric_id}', '{self.uuid_id}')"


@pytest.fixture(scope="module")
def usermaven_run(pipeline: Pipeline) -> UsermavenRun:
    """An identify with a company, two events and a bulk of 20, flushed: the SDK sends them
    as JSON arrays (bulk bodies) to `/api/v1/s2s/event/`."""
    run = UsermavenRun(random.randrange(10**9, 10**12), uuid.uuid4(), [], [])
    api_key, server_token = pipeline.credentials.usermaven_token.split(".", 1)
    client = UsermavenClient(
        api_key, server_token, host=pipeline.gateway,
        on_error=lambda error, batch: run.errors.append(f"{error} ({len(batch)} events)"),
    )  # fmt: skip
    with responses(usermaven.request._session) as seen:
        client.identify(USERMAVEN_USER | {"id": run.numeric_id}, company=USERMAVEN_COMPANY)
        client.track(run.numeric_id, "report_exported", event_attributes={"rows": 120, "as": "csv"})
        client.track(run.uuid_id, "plan_upgraded", event_attributes={"amount": 49.5, "cur": "EUR"})
        for index in range(20):
            client.track(run.numeric_id, "bulk_item", event_attributes={"index": index})
        client.flush()
        client.join()
    run.seen.extend(seen)
    return run


def _body(response: requests.Response) -> bytes:
    body = response.request.body
    assert isinstance(body, bytes), body
    return body


def test_usermaven_python_sdk_is_answered_directly(usermaven_run: UsermavenRun) -> None:
    assert (usermaven_run.errors, refused(usermaven_run.seen)) == ([], [])
    sizes = [len(orjson.loads(_body(r))) for r in usermaven_run.seen]
    assert sum(sizes) == 23 and max(sizes) > 1, sizes  # bulk bodies


def test_usermaven_python_sdk_events_land(
    usermaven_run: UsermavenRun, warehouse: Warehouse
) -> None:
    query = f"SELECT user_id, name, count() FROM events FINAL WHERE {usermaven_run.where()}"
    numeric, uuid_id = str(usermaven_run.numeric_id), str(usermaven_run.uuid_id)
    expected = {
        (numeric, "user_identify", 1),
        (numeric, "report_exported", 1),
        (numeric, "bulk_item", 20),  # the whole bulk, whatever its neighbours' ids
        (uuid_id, "plan_upgraded", 1),
    }
    assert settled(lambda: set(warehouse.rows(query + " GROUP BY 1, 2")), expected) == expected


def test_usermaven_python_sdk_attributes_become_metrics_and_dimensions(
    usermaven_run: UsermavenRun, warehouse: Warehouse
) -> None:
    query = f"SELECT name, metrics, dimensions FROM events FINAL WHERE {usermaven_run.where()}"
    expected = [
        ("plan_upgraded", {"amount": 49.5}, {"cur": "EUR"}),
        ("report_exported", {"rows": 120.0}, {"as": "csv"}),
    ]
    named = " AND name IN ('plan_upgraded', 'report_exported') ORDER BY name"
    assert settled(lambda: warehouse.rows(query + named), expected) == expected
    indices = "SELECT arraySort(groupArray(metrics['index'])) FROM events FINAL WHERE {}"
    found = warehouse.rows(indices.format(usermaven_run.where()) + " AND name = 'bulk_item'")
    assert found == [([float(i) for i in range(20)],)]


def test_usermaven_python_sdk_identify_reaches_the_person(
    usermaven_run: UsermavenRun, warehouse: Warehouse
) -> None:
    expected = {
        "email": USERMAVEN_USER["email"],
        "created_at": USERMAVEN_USER["created_at"],
        "plan": "pro",  # the user's custom attributes
        "company": {"id": "7", "name": "Acme", "created_at": "2023-05-01", "tier": "gold"},
    }
    person = str(usermaven_run.numeric_id)
    assert settled(lambda: warehouse.person(person), expected) == expected
