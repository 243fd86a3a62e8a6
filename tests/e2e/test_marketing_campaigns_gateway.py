"""A campaign end to end (issue #6, "done when"): every service as its own process on PostgreSQL
and RabbitMQ, driven over the gateway, sending through integrations to a real SMTP server
(aiosmtpd in this test). An unsubscribed and a suppressed contact receive nothing; each subscribed
one receives exactly one message with the RFC 8058 headers; the one-click unsubscribe, the click
redirect (a foreign URL refused) and the open pixel work over the public routes; engagement reaches
lead scoring and the contact timeline; a won deal shows in the campaign's ROI."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
import requests
from crm.marketing.v1 import events_pb2 as marketing_events

from crmkit.events.rabbitmq import RabbitBus
from tests.e2e.support import Api, ModuleView, wait_until
from tests.integration.test_marketing import outgoing
from tests.mailservers import SmtpServer, self_signed

pytestmark = pytest.mark.e2e
PIPELINE = {
    "name": "Sales",
    "stages": [
        {"name": "Open", "probability": 10},
        {"name": "Won", "category": "WON"},
        {"name": "Lost", "category": "LOST"},
    ],
}
TEMPLATE = {
    "name": "Spring",
    "subject": "Spring offers for {{ contact.givenName | default('you') }}",
    "htmlBody": '<p>Hi {{ contact.givenName }}</p><a href="https://shop.example.com/spring">Shop</a>'
    '<p><a href="{{ unsubscribeUrl }}">Unsubscribe</a></p>',
    "textBody": "Hi {{ contact.givenName }}: https://shop.example.com/spring",
}


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    server = SmtpServer(self_signed()).start(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module."""
    return ModuleView(shared_suite)


@pytest.fixture(scope="module")
def tenant(suite):
    return suite.create_tenant("Acme")


@pytest.fixture(scope="module")
def api(suite, tenant):
    return Api(suite.base, tenant["apiKey"])


def fields(response: requests.Response) -> set[str]:
    assert response.status_code == 400, response.text
    return {d["field"] for d in response.json()["error"]["details"]}


def contact(api: Api, name: str) -> str:
    created = api.post("/v1/contacts", json={"givenName": name, "email": f"{name.lower()}@mkt.example"})
    assert created.status_code == 200, created.text
    contact_id: str = created.json()["id"]
    wait_until(lambda: api.get(f"/v1/audienceMembers/{contact_id}").status_code == 200, 30, f"{name} in marketing")
    return contact_id


def subscribe(api: Api, contact_id: str, status: str = "SUBSCRIBED") -> None:
    decision = {"channel": "email", "status": status, "legalBasis": "CONSENT", "source": "signup form"}
    answer = api.post(f"/v1/audienceMembers/{contact_id}/subscriptions", json=decision)
    assert answer.status_code == 200, answer.text


def email_status(api: Api, contact_id: str) -> str:
    listed = api.get(f"/v1/audienceMembers/{contact_id}/subscriptions").json()["subscriptions"]
    return str(next(s["status"] for s in listed if s["channel"] == "email"))


def test_a_campaign_reaches_only_subscribed_contacts_once_and_its_links_work(suite, tenant, api, smtp) -> None:
    connection = {
        "type": "SMTP",
        "displayName": "Newsletter",
        "host": "localhost",
        "port": smtp.port,
        "security": "STARTTLS",
        "username": smtp.username,
        "password": smtp.password,
        "fromAddress": "news@acme.example",
        "caCertificate": smtp.certificate.cert_pem,
    }
    assert api.post("/v1/connections", json=connection).status_code == 200
    ann, bob, cid, dan = (contact(api, n) for n in ("Ann", "Bob", "Cid", "Dan"))
    for contact_id in (ann, bob, cid, dan):
        subscribe(api, contact_id)
    subscribe(api, bob, "UNSUBSCRIBED")
    # Cid's address bounced hard earlier: the bounce arrives as an event and suppresses it.
    bus = RabbitBus(suite.amqp_url, suite.prefix)
    publisher = bus.publisher()
    bounce = marketing_events.Engagement(contact_id=cid, email="cid@mkt.example")
    publisher.publish([outgoing(tenant["tenantId"], cid, marketing_events.EmailBounced(engagement=bounce, hard=True))])
    publisher.close()
    bus.close()
    wait_until(
        lambda: any(
            s["email"] == "cid@mkt.example" for s in api.get("/v1/suppressions").json().get("suppressions", [])
        ),
        30,
        "the suppression",
    )
    lead = api.post("/v1/leads", json={"givenName": "Ann", "email": "ann@mkt.example", "company": "Mkt"}).json()

    segment = api.post("/v1/segments", json={"name": "Newsletter", "kind": "STATIC"}).json()
    assert api.post(f"/v1/segments/{segment['id']}:addMembers", json={"contactIds": [ann, bob, cid, dan]}).ok
    template = api.post("/v1/templates", json=TEMPLATE).json()
    assert fields(api.post("/v1/campaigns", json={"segmentId": "NOPE"})) == {"name", "templateId"}
    unknown = {"name": "Spring", "segmentId": "NOPE", "templateId": template["id"]}
    assert fields(api.post("/v1/campaigns", json=unknown)) == {"segmentId"}
    body = {
        "name": "Spring",
        "segmentId": segment["id"],
        "templateId": template["id"],
        "sendRatePerMinute": 6000,
        "cost": {"currencyCode": "EUR", "units": "100", "nanos": 0},
    }
    created = api.post("/v1/campaigns", json=body)
    assert created.status_code == 200, created.text
    campaign = created.json()
    assert campaign["status"] == "DRAFT" and created.headers["ETag"] == f'"{campaign["etag"]}"'
    stale = api.post(f"/v1/campaigns/{campaign['id']}:schedule", json={}, headers={"If-Match": '"stale"'})
    assert stale.status_code == 409
    scheduled = api.post(
        f"/v1/campaigns/{campaign['id']}:schedule", json={}, headers={"If-Match": created.headers["ETag"]}
    )
    assert scheduled.status_code == 200 and scheduled.json()["status"] == "SCHEDULED"
    wait_until(
        lambda: api.get(f"/v1/campaigns/{campaign['id']}").json()["status"] == "SENT", 60, "the campaign to be sent"
    )

    # Exactly one message each for Ann and Dan; nothing for Bob (unsubscribed) or Cid (suppressed).
    assert sorted(m.rcpt_tos[0] for m in smtp.received) == ["ann@mkt.example", "dan@mkt.example"]
    mails = {m.rcpt_tos[0]: message_from_bytes(m.data, policy=policy.default) for m in smtp.received}
    for mail in mails.values():
        assert re.fullmatch(
            rf"<{re.escape(suite.base)}/v1/tracking/unsubscribes/[\w.-]+>", str(mail["List-Unsubscribe"])
        )
        assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    records = api.get(f"/v1/campaigns/{campaign['id']}/messages").json()["messages"]
    assert sorted((r["contactId"], r["status"], r["reason"]) for r in records) == sorted(
        [(ann, "SENT", ""), (dan, "SENT", ""), (bob, "SKIPPED", "unsubscribed"), (cid, "SKIPPED", "suppressed")]
    )

    ann_html = mails["ann@mkt.example"].get_body(("html",)).get_content()
    [click] = re.findall(r'href="([^"]*/v1/tracking/clicks/[^"]+)"', ann_html)
    [pixel] = re.findall(r'src="([^"]*/v1/tracking/opens/[^"]+)"', ann_html)
    anonymous = requests.Session()  # no credentials: the signed token is the only authority
    opened = anonymous.get(pixel, timeout=10)
    assert opened.status_code == 200 and opened.headers["Content-Type"] == "image/gif"
    followed = anonymous.get(click, allow_redirects=False, timeout=10)
    assert followed.status_code == 302 and followed.headers["Location"] == "https://shop.example.com/spring"
    payload, _mac = click.rsplit("/", 1)[1].split(".")
    foreign = _with_url(payload, "https://evil.example.net/phish")
    refused = anonymous.get(click.replace(payload, foreign), allow_redirects=False, timeout=10)
    assert refused.status_code == 404 and refused.json()["error"]["status"] == "NOT_FOUND"
    assert "Location" not in refused.headers

    unsubscribe = str(mails["dan@mkt.example"]["List-Unsubscribe"]).strip("<>")
    page = anonymous.get(unsubscribe, timeout=10)
    assert page.status_code == 200 and "One-Click" in page.text
    assert email_status(api, dan) == "SUBSCRIBED", "a GET must not unsubscribe"
    one_click = anonymous.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert one_click.status_code == 200, one_click.text
    assert email_status(api, dan) == "UNSUBSCRIBED"
    tampered = anonymous.post(unsubscribe[:-4] + "AAAA", data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert tampered.status_code == 404 and tampered.json()["error"]["code"] == 404

    # Ann's click reaches sales (her lead's score) and the contact timeline.
    def scored_by_the_click() -> bool:
        history = api.get(f"/v1/leads/{lead['id']}").json().get("history", [])
        return any(h["kind"] == "score" and "email clicked (Spring)" in h["message"] for h in history)

    wait_until(scored_by_the_click, 30, "lead scoring")
    wait_until(
        lambda: (
            "email.clicked" in {e["kind"] for e in api.get(f"/v1/contacts/{ann}/timeline").json().get("entries", [])}
        ),
        30,
        "the timeline",
    )

    # Ann's deal is won: the campaign she clicked gets the conversion and its revenue.
    made = api.post("/v1/pipelines", json=PIPELINE)
    assert made.status_code == 200, made.text
    pipeline = made.json()
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    deal = api.post(
        "/v1/opportunities",
        json={
            "name": "Spring order",
            "pipelineId": pipeline["id"],
            "contactId": ann,
            "amount": {"currencyCode": "EUR", "units": "1000"},
        },
    ).json()
    assert api.patch(f"/v1/opportunities/{deal['id']}", json={"stageId": stages["Won"]}).status_code == 200

    def analytics() -> dict:  # type: ignore[type-arg]
        return dict(api.get(f"/v1/campaigns/{campaign['id']}/analytics").json())

    wait_until(lambda: analytics()["conversions"] == "1", 30, "the conversion")
    found = analytics()
    assert (found["sent"], found["delivered"], found["uniqueOpens"], found["uniqueClicks"]) == ("2", "2", "1", "1")
    assert found["unsubscribes"] == "1" and found["skipped"] == "2" and found["clickThroughRate"] == 0.5
    assert found["attributedRevenue"] == [{"currencyCode": "EUR", "units": "1000", "nanos": 0}]
    assert found["roi"] == 9.0
    other = Api(suite.base, suite.create_tenant("Other")["apiKey"])
    assert other.get(f"/v1/campaigns/{campaign['id']}/analytics").status_code == 404


def _with_url(payload: str, url: str) -> str:
    import base64
    import json

    values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    values[2] = url
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).rstrip(b"=").decode()
