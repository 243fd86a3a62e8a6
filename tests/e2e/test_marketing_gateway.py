"""Marketing through the gateway (gunicorn) to the contacts and marketing targets on PostgreSQL
and RabbitMQ: a segment follows contacts created over REST; consent decisions and their rules."""

from __future__ import annotations

import pytest

from tests.e2e.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_segment_counts_and_previews_contacts_and_consent_is_recorded(partner, acme_api):
    rules = {
        "all": [
            {"field": "lifecycleStage", "operator": "equals", "value": "CUSTOMER"},
            {"field": "tags", "operator": "contains", "value": "mkt-e2e"},
        ]
    }
    bad = acme_api.post("/v1/segments", json={"name": "Broken", "rules": {"all": [{"field": "shoeSize"}]}})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"rules.all[0].field", "rules.all[0].operator"}

    segment = acme_api.post("/v1/segments", json={"name": "E2E customers", "rules": rules})
    assert segment.status_code == 200, segment.text
    segment_id = segment.json()["id"]
    made = []
    for name in ("Mia", "Noa", "Ola"):
        body = {"givenName": name, "email": f"{name.lower()}@mkt.example", "tags": ["mkt-e2e"]}
        body["lifecycleStage"] = "CUSTOMER" if name != "Ola" else "LEAD"
        created = acme_api.post("/v1/contacts", json=body)
        assert created.status_code == 200, created.text
        made.append(created.json()["id"])

    def count() -> int:
        return int(acme_api.get(f"/v1/segments/{segment_id}").json().get("memberCount", 0))

    wait_until(lambda: count() == 2, 30, "the segment to follow the new contacts")
    first = acme_api.get(f"/v1/segments/{segment_id}/members", params={"pageSize": 1}).json()
    second = acme_api.get(
        f"/v1/segments/{segment_id}/members", params={"pageSize": 1, "pageToken": first["nextPageToken"]}
    ).json()
    previewed = [m["contactId"] for m in first["audienceMembers"] + second["audienceMembers"]]
    assert sorted(previewed) == sorted(made[:2])

    path = f"/v1/audienceMembers/{made[0]}/subscriptions"
    decision = {"channel": "email", "status": "UNSUBSCRIBED", "legalBasis": "CONSENT", "source": "phone call"}
    assert acme_api.post(path, json=decision).status_code == 200
    again = acme_api.post(path, json={**decision, "status": "SUBSCRIBED", "legalBasis": "LEGITIMATE_INTEREST"})
    assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"
    opted = acme_api.post(path, json={**decision, "status": "SUBSCRIBED", "explicitOptIn": True, "source": "form"})
    assert opted.status_code == 200 and opted.json()["status"] == "SUBSCRIBED"
    listed = acme_api.get(path).json()
    assert [s["status"] for s in listed["subscriptions"]] == ["SUBSCRIBED"]
    assert [h["status"] for h in listed["history"]] == ["UNSUBSCRIBED", "SUBSCRIBED"]

    template = acme_api.post(
        "/v1/templates",
        json={"name": "Hello", "subject": "Hi {{ contact.givenName | default('there') }}", "htmlBody": "<p>x</p>"},
    ).json()
    preview = acme_api.post(f"/v1/templates/{template['id']}:preview", json={"contactId": made[0]})
    assert preview.status_code == 200 and preview.json()["subject"] == "Hi Mia"
