"""Leads end to end through the gateway (gunicorn) to the sales and contacts targets on PostgreSQL:
REST CRUD and the lifecycle, a public web form without credentials (honeypot, rate limit),
conversion into a contact."""

from __future__ import annotations

import pytest

from tests.e2e.support import Api

pytestmark = pytest.mark.e2e


def test_a_lead_is_created_moved_through_its_lifecycle_and_converted_over_rest(partner, acme_api):
    created = acme_api.post(
        "/v1/leads", json={"givenName": "Rita", "email": "rita@levi.example", "company": "Levi", "country": "it"}
    )
    assert created.status_code == 200, created.text
    lead = created.json()
    assert lead["country"] == "IT" and lead["status"] == "new" and created.headers["ETag"] == f'"{lead["etag"]}"'

    skipped = acme_api.patch(f"/v1/leads/{lead['id']}", json={"status": "converted"})
    assert skipped.status_code == 400
    assert [d["field"] for d in skipped.json()["error"]["details"]] == ["status"]
    for status in ("working", "qualified"):
        moved = acme_api.patch(f"/v1/leads/{lead['id']}", json={"status": status})
        assert moved.status_code == 200 and moved.json()["status"] == status
    listed = acme_api.get("/v1/leads", params={"filter": 'status = "qualified" AND country = "IT"'})
    assert [x["id"] for x in listed.json()["leads"]] == [lead["id"]]

    converted = acme_api.post(f"/v1/leads/{lead['id']}:convert", json={})
    assert converted.status_code == 200, converted.text
    body = converted.json()
    assert body["lead"]["status"] == "converted" and body["contactId"]
    contact = acme_api.get(f"/v1/contacts/{body['contactId']}")
    assert contact.status_code == 200 and contact.json()["email"] == "rita@levi.example"
    again = acme_api.post(f"/v1/leads/{lead['id']}:convert", json={})
    assert again.status_code == 200 and again.json()["contactId"] == body["contactId"]


def test_a_web_form_takes_submissions_without_credentials_drops_bots_and_limits_floods(partner, acme_api):
    form = acme_api.post("/v1/webForms", json={"name": "Newsletter", "leadSource": "newsletter"}).json()
    anonymous = Api(partner.base, None)
    path = f"/v1/webForms/{form['publicKey']}:submit"

    sent = anonymous.post(path, json={"fields": {"givenName": "Wim", "email": "wim@web.example", "topic": "pricing"}})
    assert sent.status_code == 200 and sent.json() == {"received": True}
    bot = anonymous.post(path, json={"fields": {"givenName": "Bot", "email": "bot@web.example", "website": "x"}})
    assert bot.status_code == 200 and bot.json() == {"received": True}
    leads = acme_api.get("/v1/leads", params={"filter": 'source = "newsletter"'}).json()["leads"]
    assert [(x["givenName"], x["customAttributes"]) for x in leads] == [("Wim", {"topic": "pricing"})]
    assert anonymous.get("/v1/leads").status_code == 401, "the public route opens nothing else"

    answers = [anonymous.post(path, json={"fields": {"givenName": f"Flood {n}"}}).status_code for n in range(12)]
    assert 429 in answers, answers
    limited = anonymous.post(path, json={"fields": {"givenName": "Later"}})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    # The budget is per form: another form's visitors from the same address are not refused.
    other = acme_api.post("/v1/webForms", json={"name": "Demo request"}).json()
    assert (
        anonymous.post(f"/v1/webForms/{other['publicKey']}:submit", json={"fields": {"company": "Co"}}).status_code
        == 200
    )
