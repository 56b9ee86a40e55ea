"""The workflow API's behaviour where the seed is loose, against a real gateway and broker:
pagination edges, form bodies, expand, environments, what each kind of key may do, users,
publishing and its validation."""

import uuid
from typing import Any

import httpx2

from tests.gateway.workflows.conftest import WorkflowGateways

TEMPLATE: dict[str, Any] = {
    "nodes": [
        {"id": "start", "type": "Start", "name": "Start"},
        {"id": "wait", "type": "Delay", "name": "Wait", "delay_n": 2, "delay_unit": "day"},
    ],
    "edges": ["start-wait"],
}


def user() -> str:
    return f"u-{uuid.uuid4().hex}"


def create(client: httpx2.Client, owner: str, **fields: Any) -> dict[str, Any]:
    answer = client.post("/workflows", json={"name": "W", "user_key": owner, **fields})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def page(client: httpx2.Client, owner: str, **cursor: str) -> dict[str, Any]:
    answer = client.get("/workflows", params={"user_key": owner, **cursor})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_pages_are_newest_first_with_stable_cursors(workflow_gateways: WorkflowGateways) -> None:
    owner = user()
    with workflow_gateways.client() as client:
        made = [create(client, owner, key=f"w{i}")["id"] for i in range(27)]
        first = page(client, owner)
        ids = [w["id"] for w in first["collection"]]
        assert ids == made[::-1][:25]
        assert first["meta"] == {
            "page_limit": 25,
            "has_next_page": True,
            "has_previous_page": False,
        }
        create(client, owner, key="newer")  # an insert while paging moves no cursor
        second = page(client, owner, starting_after=ids[-1])
        assert [w["id"] for w in second["collection"]] == made[1::-1]
        assert second["meta"]["has_next_page"] is False
        assert second["meta"]["has_previous_page"] is True
        back = page(client, owner, ending_before=made[1])
        assert [w["id"] for w in back["collection"]] == made[::-1][:25]
        assert back["meta"]["has_previous_page"] is True  # "newer" is before it now
        both = client.get("/workflows", params={"starting_after": ids[0], "ending_before": ids[1]})
        not_an_id = client.get("/workflows", params={"starting_after": "nope"})
    assert both.status_code == 400 and "only one" in both.json()["errors"][0]["reason"]
    assert (
        not_an_id.status_code == 400 and not_an_id.json()["errors"][0]["field"] == "starting_after"
    )


def test_list_items_leave_out_template_and_stats(workflow_gateways: WorkflowGateways) -> None:
    owner = user()
    with workflow_gateways.client() as client:
        create(client, owner, template=TEMPLATE)
        [item] = page(client, owner)["collection"]
    assert "template" not in item and "stats" not in item and item["actions_count"] == 1


def test_form_bodies_with_bracket_nesting(workflow_gateways: WorkflowGateways) -> None:
    owner = user()
    form = {
        "name": "From a form",
        "user_key": owner,
        "auto_start": "false",
        "event_trigger": "signed_up",
        "template[nodes][0][id]": "start",
        "template[nodes][0][type]": "Start",
        "template[nodes][1][id]": "wait",
        "template[nodes][1][type]": "Delay",
        "template[nodes][1][delay_n]": "2",
        "template[nodes][1][delay_unit]": "day",
        "template[nodes][1][minute_of_day]": "570",
        "template[edges][]": "start-wait",
        "expand[]": "event_trigger",
    }
    with workflow_gateways.client() as client:
        answer = client.post("/workflows", data=form)
    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert made["auto_start"] is False and made["actions_count"] == 1
    assert made["template"]["nodes"][1]["delay_n"] == 2
    assert made["template"]["nodes"][1]["minute_of_day"] == 570
    assert made["event_trigger"]["event"] == "signed_up"  # expanded


def test_json_bodies_are_strict_about_types(workflow_gateways: WorkflowGateways) -> None:
    with workflow_gateways.client() as client:
        answer = client.post("/workflows", json={"name": "W", "auto_start": "false"})
        unknown = client.post("/workflows", json={"name": "W", "colour": "red"})
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "auto_start"
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "colour"


def test_expand_gives_the_event_trigger_object(workflow_gateways: WorkflowGateways) -> None:
    owner = user()
    with workflow_gateways.client() as client:
        made = create(client, owner, event_trigger="form_submission")
        plain = client.get(f"/workflows/{made['id']}").json()
        expanded = client.get(
            f"/workflows/{made['id']}",
            params={"expand[]": ["event_trigger", "event_trigger_draft"]},
        ).json()
        wrong = client.get(f"/workflows/{made['id']}", params={"expand[]": "template"})
        in_the_body = client.request(
            "GET", f"/workflows/{made['id']}", data={"expand[]": "event_trigger"}
        ).json()  # curl -X GET -d "expand[]=event_trigger"
    assert plain["event_trigger"] == "form_submission"
    trigger = expanded["event_trigger"]
    assert trigger["event"] == "form_submission" and trigger["object"] == "event_trigger"
    assert expanded["event_trigger_draft"] == trigger  # one object per event name
    assert in_the_body["event_trigger"] == trigger
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "expand"


def test_test_and_live_keys_see_separate_environments(workflow_gateways: WorkflowGateways) -> None:
    owner = user()
    with workflow_gateways.client("sk_test") as test, workflow_gateways.client("sk_live") as live:
        made = create(test, owner, key="shared_key")
        assert live.get(f"/workflows/{made['id']}").status_code == 404
        assert page(live, owner)["collection"] == []
        create(live, owner, key="shared_key")  # the same key is free in the other environment
    with workflow_gateways.client(workflow_gateways.other_secret) as other:
        assert other.get(f"/workflows/{made['id']}").status_code == 404  # nor another project


def test_what_a_publishable_key_may_do(workflow_gateways: WorkflowGateways) -> None:
    with workflow_gateways.client("pk_test") as browser:
        event = browser.post("/trigger", json={"event": "clicked"})
        targeted = browser.post("/trigger", json={"workflow_keys": "onboarding"})
        listing = browser.get("/workflows")
        deleting = browser.delete("/users/someone")
    assert event.status_code == 200 and event.json() == {}
    for refused in (targeted, listing, deleting):
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["field"] == "Authorization"


def test_keys_are_read_from_bearer_or_basic(workflow_gateways: WorkflowGateways) -> None:
    base, secret = f"{workflow_gateways.urls[0]}/api/v1", workflow_gateways.keys["sk_test"]
    basic = httpx2.get(f"{base}/users/main", auth=(secret, ""), timeout=10)
    missing = httpx2.get(f"{base}/users/main", timeout=10)
    unknown = httpx2.get(f"{base}/users/main", headers={"Authorization": "Bearer sk_test_x"})
    assert basic.status_code == 200 and basic.json()["object"] == "user"
    assert missing.status_code == unknown.status_code == 401
    assert missing.json()["code"] == "UNAUTHORIZED"


def test_publishing_validates_the_draft_and_names_the_node(
    workflow_gateways: WorkflowGateways,
) -> None:
    broken = {"nodes": [*TEMPLATE["nodes"], {"id": "hook", "type": "Webhook", "url": "ftp://x"}]}
    with workflow_gateways.client() as client:
        made = create(client, user(), template=TEMPLATE)
        path = f"/workflows/{made['id']}"
        draft = client.put(path, json={"template": broken | {"edges": ["start-wait"]}})
        published = client.put(path, json={"template_status": "published"})
        unit = client.put(path, json={"template": {"nodes": [{"id": "a", "type": "Delay"}]}})
    assert draft.status_code == 400
    assert draft.json()["errors"][0]["field"] == "template.nodes[2].url"
    assert "'hook'" in draft.json()["errors"][0]["reason"]
    assert published.status_code == 200
    assert published.json()["template_status"] == "published"
    assert published.json()["last_published_at"] is not None
    assert unit.status_code == 400 and unit.json()["errors"][0]["field"].startswith(
        "template.nodes[0]"
    )


def test_edits_change_the_draft_until_published(workflow_gateways: WorkflowGateways) -> None:
    with workflow_gateways.client() as client:
        made = create(client, user(), template=TEMPLATE)
        path = f"/workflows/{made['id']}"
        client.put(path, json={"template_status": "published"})
        edited = client.put(path, json={"template": {"nodes": [], "edges": []}}).json()
        unfinished = client.put(path, json={"template": {"nodes": [TEMPLATE["nodes"][1]]}})
        republish = client.put(path, json={"template_status": "published"})
    assert edited["template"] == TEMPLATE and edited["template_draft"]["nodes"] == []
    assert edited["template_status"] == "draft"
    assert unfinished.status_code == 200  # a draft may lack its Start until it is published
    assert republish.status_code == 400
    assert republish.json()["errors"][0]["field"] == "template.nodes"


def test_users_upsert_only_what_is_given_and_archive(workflow_gateways: WorkflowGateways) -> None:
    name = user()
    with workflow_gateways.client() as client:
        made = client.put(f"/users/{name}", json={"name": "Ann", "email": "ann@example.com"}).json()
        changed = client.put(
            f"/users/{name}", json={"config": {"user_data": {"foo": "bar"}}, "email": None}
        ).json()
        archived = client.delete(f"/users/{name}")
        fetched = client.get(f"/users/ARCHIVED__{name}").json()
        rediscovered = client.get(f"/users/{name}").json()
        main = client.delete("/users/main")
    assert (changed["name"], changed["email"]) == ("Ann", None)  # null unsets, absent keeps
    assert changed["config"]["user_data"] == {"foo": "bar"} and changed["id"] == made["id"]
    assert archived.status_code == 200 and archived.json()["key"] == f"ARCHIVED__{name}"
    assert fetched["id"] == made["id"]
    assert rediscovered["id"] != made["id"] and rediscovered["name"] == name
    assert main.status_code == 400


def test_trigger_and_execute_check_what_they_name(workflow_gateways: WorkflowGateways) -> None:
    owner = user()
    with workflow_gateways.client() as client:
        made = create(client, owner, key="onboarding", template=TEMPLATE)
        published = {"template_status": "published", "user_key": owner}
        assert client.put(f"/workflows/{made['id']}", json=published).status_code == 200
        by_key = client.post(
            "/trigger", json={"workflow_keys": "onboarding,missing", "user_key": owner}
        )
        by_hashids = client.post("/trigger", json={"workflow_hashids": made["id"]})
        nothing = client.post("/trigger", json={})
        executed = client.post(
            "/workflows/onboarding/execute",
            json={"id_type": "key", "user_key": owner, "execution_data": {"name": "Ann"}},
        )
        stopped = client.post("/executions", json={"stop_event": "left", "user_key": owner})
        no_event = client.post("/executions/stop", json={})
    assert by_key.status_code == 404 and "missing" in by_key.json()["errors"][0]["reason"]
    assert by_hashids.status_code == 200  # the vendor's client names them so
    assert nothing.status_code == 400
    assert executed.status_code == 200 and executed.json()["id"] == made["id"]
    assert stopped.status_code == 200 and stopped.json() == {}
    assert no_event.status_code == 400 and no_event.json()["errors"][0]["field"] == "stop_event"
