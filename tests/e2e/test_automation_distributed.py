"""Automation rules end to end: gateway, contacts, support, integrations and the relay as separate
processes on PostgreSQL and RabbitMQ, configured over REST like an admin would (issue #7 point 6)."""

from __future__ import annotations

import pytest

from tests.e2e.support import Api, ModuleView, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module."""
    return ModuleView(shared_suite)


@pytest.fixture(scope="module")
def api(suite):
    return Api(suite.base, suite.create_tenant("Automated")["apiKey"])


def executions(api: Api, rule_id: str) -> list[dict]:
    listed = api.get(f"/v1/automationRules/{rule_id}/executions", params={"pageSize": 100})
    assert listed.status_code == 200, listed.text
    return list(listed.json().get("executions", []))


def finished(api: Api, rule_id: str, count: int) -> list[dict]:
    def ready():
        found = [e for e in executions(api, rule_id) if e["state"] != "PENDING"]
        return found if len(found) >= count else None

    return list(wait_until(ready, 40, f"{count} finished executions of rule {rule_id}"))  # type: ignore[arg-type]


def rule(api: Api, body: dict) -> dict:
    created = api.post("/v1/automationRules", json=body)
    assert created.status_code == 200, created.text
    return dict(created.json())


def test_rules_are_admin_configuration_validated_field_by_field_with_etags_and_pages(suite, api):
    bad = api.post(
        "/v1/automationRules",
        json={
            "displayName": "",
            "eventType": "contact.exploded",
            "condition": "givenName = = 1",
            "actions": [{"updateField": {"field": "email", "value": "x"}}, {"sendEmail": {"subject": "{{ oops"}}],
        },
    )
    assert bad.status_code == 400, bad.text
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert {"displayName", "eventType", "condition", "actions[0].updateField.field"} <= fields
    assert "actions[1].sendEmail.subject" in fields
    assert api.get("/v1/automationRules").json().get("automationRules", []) == [], "nothing half-written"

    first = rule(
        api,
        {
            "displayName": "Never",
            "eventType": "ticket.created",
            "condition": 'priority = "URGENT" AND subject : "never-matches-anything"',
            "actions": [{"assignOwner": {"ownerId": "agent-1"}}],
        },
    )
    assert first["state"] == "ENABLED" and first["etag"]
    second = rule(
        api,
        {"displayName": "Other", "eventType": "contact.deleted", "actions": [{"assignOwner": {"ownerId": "x"}}]},
    )
    patched = api.patch(f"/v1/automationRules/{first['id']}", json={"description": "urgent ones"})
    assert patched.status_code == 200 and patched.json()["description"] == "urgent ones"
    stale = api.patch(
        f"/v1/automationRules/{first['id']}", json={"description": "again"}, headers={"If-Match": first["etag"]}
    )
    assert stale.status_code == 409
    disabled = api.post(f"/v1/automationRules/{first['id']}:disable", json={})
    assert disabled.json()["state"] == "DISABLED"
    assert api.post(f"/v1/automationRules/{first['id']}:enable", json={}).json()["state"] == "ENABLED"

    page = api.get("/v1/automationRules", params={"pageSize": 1}).json()
    rest = api.get("/v1/automationRules", params={"pageSize": 1, "pageToken": page["nextPageToken"]}).json()
    assert [r["id"] for r in page["automationRules"] + rest["automationRules"]] == [first["id"], second["id"]]
    assert api.delete(f"/v1/automationRules/{second['id']}").status_code == 200
    assert api.get(f"/v1/automationRules/{second['id']}").status_code == 404

    partner = Api(suite.base, api.post("/v1/apiKeys", json={"displayName": "p", "roles": ["partner"]}).json()["secret"])
    assert partner.get("/v1/automationRules").status_code == 403, "configuration is for admins"


def test_a_dry_run_shows_what_the_actions_would_do_and_changes_nothing(api):
    made = rule(
        api,
        {
            "displayName": "Welcome",
            "eventType": "contact.created",
            "condition": 'email : "@dry.example"',
            "actions": [
                {"createTask": {"subject": "Call {{ record.givenName }}"}},
                {"updateField": {"field": "title", "value": "{{ record.nope }}"}},
            ],
        },
    )
    tried = api.post(
        f"/v1/automationRules/{made['id']}:test",
        json={"data": {"id": "c1", "givenName": "Ada", "email": "a@dry.example"}},
    )
    assert tried.status_code == 200, tried.text
    answer = tried.json()
    assert answer["matched"] is True
    assert answer["actions"][0]["description"] == "create the task 'Call Ada' on contact c1"
    assert "nope" in answer["actions"][1]["error"]
    missed = api.post(f"/v1/automationRules/{made['id']}:test", json={"data": {"email": "a@elsewhere.example"}})
    assert missed.json().get("matched", False) is False
    assert executions(api, made["id"]) == []
    api.delete(f"/v1/automationRules/{made['id']}")


def test_a_new_contact_matching_a_rule_is_assigned_given_a_task_and_a_field(api):
    made = rule(
        api,
        {
            "displayName": "Acme leads",
            "eventType": "contact.created",
            "condition": 'email : "@acme.example" AND NOT tags : "ignore"',
            "actions": [
                {"assignOwner": {"ownerId": "rep-7"}},
                {"createTask": {"subject": "Call {{ record.givenName }} from {{ data.email }}", "dueInHours": 24}},
                {"updateField": {"field": "lifecycleStage", "value": "SALES_QUALIFIED_LEAD"}},
                {"updateField": {"field": "customFields.source", "value": "rule {{ rule.displayName }}"}},
            ],
        },
    )
    ada = api.post("/v1/contacts", json={"givenName": "Ada", "email": "ada@acme.example"}).json()
    other = api.post("/v1/contacts", json={"givenName": "Bob", "email": "bob@elsewhere.example"}).json()

    [execution] = finished(api, made["id"], 1)
    assert execution["state"] == "SUCCEEDED", execution
    assert execution["subjectId"] == ada["id"] and execution["eventType"] == "contact.created"
    assert [a["outcome"] for a in execution["actions"]] == ["SUCCEEDED"] * 4
    assert execution["actions"][1]["resultRef"].startswith("activities/")
    contact = api.get(f"/v1/contacts/{ada['id']}").json()
    assert contact["ownerId"] == "rep-7" and contact["lifecycleStage"] == "SALES_QUALIFIED_LEAD"
    assert contact["customFields"] == {"source": "rule Acme leads"}
    tasks = api.get("/v1/activities", params={"filter": f'kind = TASK AND contactIds : "{ada["id"]}"'}).json()
    [task] = tasks["activities"]
    assert task["subject"] == "Call Ada from ada@acme.example" and task["ownerId"] == "rep-7" and task["dueTime"]
    assert api.get(f"/v1/contacts/{other['id']}").json().get("ownerId", "") == "", "the condition held only for Ada"
    everything = api.get("/v1/automationExecutions", params={"pageSize": 100}).json()["executions"]
    assert execution["id"] in {e["id"] for e in everything}
    assert api.get(f"/v1/automationExecutions/{execution['id']}").json()["ruleId"] == made["id"]
    api.post(f"/v1/automationRules/{made['id']}:disable", json={})


def test_two_rules_that_would_trigger_each_other_forever_stop_and_the_log_says_why(api):
    ping = rule(
        api,
        {
            "displayName": "ping to pong",
            "eventType": "contact.updated",
            "condition": 'contact.title = "ping" AND contact.familyName = "Loop"',
            "actions": [{"updateField": {"field": "title", "value": "pong"}}],
        },
    )
    pong = rule(
        api,
        {
            "displayName": "pong to ping",
            "eventType": "contact.updated",
            "condition": 'contact.title = "pong" AND contact.familyName = "Loop"',
            "actions": [{"updateField": {"field": "title", "value": "ping"}}],
        },
    )
    contact = api.post("/v1/contacts", json={"givenName": "Eve", "familyName": "Loop"}).json()
    assert api.patch(f"/v1/contacts/{contact['id']}", json={"title": "ping"}).status_code == 200

    # ping runs (caused by the user), pong runs (caused by ping), then ping is refused in its own chain.
    ping_runs = finished(api, ping["id"], 2)
    [pong_run] = finished(api, pong["id"], 1)
    by_state = {e["state"]: e for e in ping_runs}
    assert set(by_state) == {"SUCCEEDED", "SKIPPED"}, ping_runs
    assert by_state["SUCCEEDED"].get("causationChain", []) == []
    assert pong_run["state"] == "SUCCEEDED" and pong_run["causationChain"] == [ping["id"]]
    skipped = by_state["SKIPPED"]
    assert skipped["causationChain"] == [ping["id"], pong["id"]]
    assert skipped["reason"].startswith("loop:") and skipped.get("actions", []) == []
    assert api.get(f"/v1/contacts/{contact['id']}").json()["title"] == "ping"

    # A later change by a person starts a new chain: the rules run again, once each.
    assert api.patch(f"/v1/contacts/{contact['id']}", json={"title": "pong"}).status_code == 200
    wait_until(lambda: len([e for e in executions(api, pong["id"]) if e["state"] != "PENDING"]) == 3, 40, "pong")
    assert api.get(f"/v1/contacts/{contact['id']}").json()["title"] == "pong"
    for made in (ping, pong):
        api.post(f"/v1/automationRules/{made['id']}:disable", json={})


def test_a_webhook_action_is_a_signed_delivery_of_the_partners_subscription(api):
    from services.integrations.webhooks.signing import verify
    from tests.webhook_receiver import Receiver

    receiver = Receiver().start()
    try:
        webhook = api.post("/v1/webhooks", json={"url": receiver.url, "eventTypes": ["ticket.solved"]}).json()
        made = rule(
            api,
            {
                "displayName": "VIP to partner",
                "eventType": "contact.created",
                "condition": "tags : vip",
                "actions": [{"callWebhook": {"webhookId": webhook["id"]}}],
            },
        )
        contact = api.post("/v1/contacts", json={"givenName": "Vic", "tags": ["vip"]}).json()
        [received] = receiver.wait_for(1, timeout=30)
    finally:
        receiver.stop()
    headers = received.headers
    assert verify(
        webhook["secret"],
        headers["webhook-id"],
        int(headers["webhook-timestamp"]),
        received.body,
        headers["webhook-signature"],
    )
    body = received.json
    assert body["type"] == "automation.rule_triggered" and body["data"]["ruleId"] == made["id"]
    assert body["data"]["event"]["type"] == "contact.created" and body["data"]["event"]["data"]["id"] == contact["id"]
    [execution] = finished(api, made["id"], 1)
    assert execution["state"] == "SUCCEEDED" and execution["actions"][0]["resultRef"].startswith("webhookDeliveries/")
    for target in ({}, {"webhookId": "01NOSUCHWEBHOOK0000000000A"}):
        refused = api.post(
            "/v1/automationRules",
            json={"displayName": "x", "eventType": "contact.created", "actions": [{"callWebhook": target}]},
        )
        assert [d["field"] for d in refused.json()["error"]["details"]] == ["actions[0].callWebhook.webhookId"]
