"""Nurture sequences through the gateway (gunicorn) to the contacts, marketing and sales targets on
PostgreSQL and RabbitMQ: definitions checked field by field, contacts enrolled when they enter the
segment (or by hand), and enrolments exiting when the contact unsubscribes, converts or wins a deal."""

from __future__ import annotations

import pytest

from tests.e2e.support import wait_until

pytestmark = pytest.mark.e2e


def fields(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    return {d["field"] for d in response.json()["error"]["details"]}


def test_a_sequence_is_checked_enrols_on_segment_entry_and_exits_on_unsubscribe_and_conversion(acme_api):
    api = acme_api
    bad = api.post(
        "/v1/sequences",
        json={
            "steps": [
                {"email": {}},
                {"wait": {"delay": "0s"}},
                {"condition": {"rules": {"all": [{"field": "shoeSize"}]}, "elseStep": 1}},
                {},
            ]
        },
    )
    assert fields(bad) == {
        "name",
        "steps[0].email.templateId",
        "steps[1].wait.delay",
        "steps[2].condition.rules.all[0].field",
        "steps[2].condition.rules.all[0].operator",
        "steps[2].condition.elseStep",
        "steps[3]",
    }
    unknown = api.post(
        "/v1/sequences", json={"name": "N", "segmentId": "NOPE", "steps": [{"email": {"templateId": "X"}}]}
    )
    assert fields(unknown) == {"segmentId", "steps[0].email.templateId"}
    assert api.get("/v1/sequences").json().get("sequences", []) == [], "nothing half-written"

    template = api.post("/v1/templates", json={"name": "Nurture", "subject": "Hi", "textBody": "Hello"}).json()
    rules = {"field": "tags", "operator": "contains", "value": "seq-e2e"}
    segment = api.post("/v1/segments", json={"name": "Nurtured", "rules": rules}).json()
    body = {
        "name": "Welcome",
        "segmentId": segment["id"],
        "steps": [{"wait": {"delay": "86400s"}}, {"email": {"templateId": template["id"]}}],
    }
    created = api.post("/v1/sequences", json=body)
    assert created.status_code == 200, created.text
    sequence = created.json()
    assert (sequence["state"], sequence["steps"][0]["wait"]["delay"]) == ("DRAFT", "86400s")
    path = f"/v1/sequences/{sequence['id']}"
    activated = api.post(f"{path}:activate", json={"etag": sequence["etag"]})
    assert activated.status_code == 200 and activated.json()["state"] == "ACTIVE"
    stale = api.post(f"{path}:pause", json={"etag": sequence["etag"]})
    assert stale.status_code == 409, "a stale etag is refused"

    people = {}
    for name in ("Ann", "Cleo", "Dan"):
        made = api.post(
            "/v1/contacts", json={"givenName": name, "email": f"{name.lower()}@seq.example", "tags": ["seq-e2e"]}
        )
        assert made.status_code == 200, made.text
        people[name] = made.json()["id"]

    def enrolments(status: str = "") -> dict[str, dict]:
        listed = api.get(f"{path}/enrolments", params={"status": status, "pageSize": 100})
        assert listed.status_code == 200, listed.text
        return {e["contactId"]: e for e in listed.json().get("enrolments", [])}

    wait_until(lambda: len(enrolments()) == 3, 30, "enrolment on segment entry")
    ann = enrolments()[people["Ann"]]
    assert (ann["source"], ann["status"], ann["currentStep"]) == ("SEGMENT_ENTRY", "ACTIVE", 1)
    assert api.get(path).json()["activeEnrolmentCount"] == "3"

    # Ann unsubscribes; Cleo's lead (same address) is converted; Dan's deal is won.
    subscriptions = f"/v1/audienceMembers/{people['Ann']}/subscriptions"
    decision = {"channel": "email", "status": "UNSUBSCRIBED", "legalBasis": "CONSENT", "source": "phone call"}
    assert api.post(subscriptions, json=decision).status_code == 200
    lead = api.post("/v1/leads", json={"givenName": "Cleo", "email": "cleo@seq.example", "company": "Cleo Ltd"})
    for status in ("working", "qualified"):
        assert api.patch(f"/v1/leads/{lead.json()['id']}", json={"status": status}).status_code == 200
    converted = api.post(f"/v1/leads/{lead.json()['id']}:convert", json={})
    assert converted.status_code == 200 and converted.json()["contactId"] == people["Cleo"], converted.text
    stages = [
        {"name": "Open", "probability": 20},
        {"name": "Won", "category": "WON"},
        {"name": "Lost", "category": "LOST"},
    ]
    pipeline = api.post("/v1/pipelines", json={"name": "Seq deals", "stages": stages}).json()
    won_stage = next(s["id"] for s in pipeline["stages"] if s["name"] == "Won")
    deal = api.post(
        "/v1/opportunities",
        json={
            "name": "Dan's",
            "pipelineId": pipeline["id"],
            "contactId": people["Dan"],
            "amount": {"currencyCode": "USD", "units": "10"},
        },
    ).json()
    won = api.patch(f"/v1/opportunities/{deal['id']}", json={"stageId": won_stage, "closeReason": "fit"})
    assert won.status_code == 200, won.text

    expected = {people["Ann"]: "UNSUBSCRIBED", people["Cleo"]: "CONVERTED", people["Dan"]: "CONVERTED"}
    wait_until(
        lambda: {c: e.get("exitReason") for c, e in enrolments("EXITED").items()} == expected, 30, "the three exits"
    )
    exited = enrolments("EXITED")[people["Ann"]]
    assert exited["currentStep"] == 0 and exited.get("endTime")

    # By hand: once per contact, and out again.
    eve = api.post("/v1/contacts", json={"givenName": "Eve", "email": "eve@seq.example"}).json()["id"]
    wait_until(lambda: api.get(f"/v1/audienceMembers/{eve}").status_code == 200, 30, "Eve in the audience")
    enrolled = api.post(f"{path}/enrolments", json={"contactId": eve})
    assert enrolled.status_code == 200 and enrolled.json()["source"] == "MANUAL", enrolled.text
    assert api.post(f"{path}/enrolments", json={"contactId": eve}).status_code == 409
    assert fields(api.post(f"{path}/enrolments", json={"contactId": ""})) == {"contactId"}
    enrolment_path = f"{path}/enrolments/{enrolled.json()['id']}"
    assert api.get(enrolment_path).json()["status"] == "ACTIVE"
    removed = api.post(f"{enrolment_path}:exit", json={})
    assert (removed.json()["status"], removed.json()["exitReason"]) == ("EXITED", "REMOVED")

    # An active sequence keeps its steps; its name can change; deleting archives it.
    assert fields(api.patch(path, json={"steps": [{"email": {"templateId": template["id"]}}]})) == {"steps"}
    renamed = api.patch(path, json={"name": "Welcome v2"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Welcome v2"
    archived = api.delete(path)
    assert archived.status_code == 200 and archived.json()["state"] == "ARCHIVED"
    assert api.get(path).json()["state"] == "ARCHIVED"
