"""Bounces and complaints end to end (issue #6 point 2, docs/adr/0067): every service as its own
process on PostgreSQL and RabbitMQ, driven over the gateway. A real SMTP server (aiosmtpd) refuses
one recipient with 550; a private Dovecot holds a real RFC 3464 bounce and an RFC 5965 abuse report
about campaign messages, captured by a support mailbox. The addresses appear in `GET /v1/suppressions`
with their reasons, the campaign's analytics count the bounce, the timeline shows it, a later
campaign sends them nothing, and no report opens a ticket or files an inbound email."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from tests.e2e.support import Api, ModuleView, wait_until
from tests.e2e.test_marketing_campaigns_gateway import TEMPLATE, contact, subscribe
from tests.integration.test_integrations_email import mail
from tests.mail_reports import arf, dsn
from tests.mailservers import PrivateDovecot, SmtpServer, self_signed

pytestmark = pytest.mark.e2e
MAILBOX_PASSWORD = "support-pass-5e1d"


@pytest.fixture(scope="module")
def certificate():
    return self_signed()


@pytest.fixture(scope="module")
def smtp(tmp_path_factory, certificate):
    server = SmtpServer(certificate).start(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dovecot(certificate):
    server = PrivateDovecot(certificate, {"support": MAILBOX_PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module."""
    return ModuleView(shared_suite)


def send_campaign(api: Api, name: str, segment_id: str, template_id: str) -> str:
    body = {"name": name, "segmentId": segment_id, "templateId": template_id, "sendRatePerMinute": 6000}
    created = api.post("/v1/campaigns", json=body)
    assert created.status_code == 200, created.text
    campaign_id: str = created.json()["id"]
    scheduled = api.post(
        f"/v1/campaigns/{campaign_id}:schedule", json={}, headers={"If-Match": created.headers["ETag"]}
    )
    assert scheduled.status_code == 200, scheduled.text
    wait_until(lambda: api.get(f"/v1/campaigns/{campaign_id}").json()["status"] == "SENT", 60, f"{name} to be sent")
    return campaign_id


def test_bounces_and_complaints_suppress_and_never_become_tickets(suite, smtp, dovecot, certificate) -> None:  # type: ignore[no-untyped-def]
    api = Api(suite.base, suite.create_tenant("Acme")["apiKey"])
    connection = {
        "type": "SMTP",
        "displayName": "Newsletter",
        "host": "localhost",
        "port": smtp.port,
        "security": "STARTTLS",
        "username": smtp.username,
        "password": smtp.password,
        "fromAddress": "help@acme.example.com",
        "caCertificate": certificate.cert_pem,
    }
    assert api.post("/v1/connections", json=connection).status_code == 200
    ann, bob, cid, dan = (contact(api, n) for n in ("Ann", "Bob", "Cid", "Dan"))
    for contact_id in (ann, bob, cid, dan):
        subscribe(api, contact_id)
    smtp.refuse["bob@mkt.example"] = "550 5.1.1 <bob@mkt.example>: Recipient address rejected: User unknown"
    segment = api.post("/v1/segments", json={"name": "Newsletter", "kind": "STATIC"}).json()
    assert api.post(f"/v1/segments/{segment['id']}:addMembers", json={"contactIds": [ann, bob, cid, dan]}).ok
    template = api.post("/v1/templates", json=TEMPLATE).json()
    spring = send_campaign(api, "Spring", segment["id"], template["id"])
    sent = {m.rcpt_tos[0]: message_from_bytes(m.data, policy=policy.default) for m in smtp.received}
    assert sorted(sent) == ["ann@mkt.example", "cid@mkt.example", "dan@mkt.example"]
    message_ids = {address: str(m["Message-ID"]).strip("<>") for address, m in sent.items()}

    # Cid's mailbox does not exist (a DSN comes back); Ann reports the message as spam (ARF).
    dovecot.append("support", dsn(message_ids["cid@mkt.example"], [("cid@mkt.example", "failed", "5.1.1")]))
    dovecot.append("support", arf(message_ids["ann@mkt.example"], "ann@mkt.example"))
    dovecot.append("support", mail("help-1@customer.example.com", "Where is my order?", "Still waiting."))
    imap = {
        "type": "IMAP",
        "displayName": "Support inbox",
        "host": "localhost",
        "port": dovecot.port,
        "security": "STARTTLS",
        "username": "support",
        "password": MAILBOX_PASSWORD,
        "purpose": "support",
        "caCertificate": certificate.cert_pem,
    }
    created = api.post("/v1/connections", json=imap)
    assert created.status_code == 200, created.text
    synced = api.post(f"/v1/connections/{created.json()['id']}:sync", json={})
    assert synced.status_code == 200, synced.text

    expected = {"ann@mkt.example": "COMPLAINT", "bob@mkt.example": "HARD_BOUNCE", "cid@mkt.example": "HARD_BOUNCE"}

    def suppressions() -> dict[str, str]:
        listed = api.get("/v1/suppressions").json().get("suppressions", [])
        return {s["email"]: s["reason"] for s in listed}

    wait_until(lambda: suppressions() == expected, 60, "the refusal, the bounce and the complaint to suppress")
    wait_until(lambda: api.get(f"/v1/campaigns/{spring}/analytics").json()["bounced"] == "1", 30, "the bounce count")
    found = api.get(f"/v1/campaigns/{spring}/analytics").json()
    assert (found["sent"], found["delivered"], found["failed"]) == ("3", "2", "1")

    def timeline(contact_id: str) -> set[str]:
        return {e["kind"] for e in api.get(f"/v1/contacts/{contact_id}/timeline").json().get("entries", [])}

    wait_until(lambda: "email.bounced" in timeline(cid), 30, "the bounce on cid's timeline")
    # Only the customer's mail opened a ticket; the reports made none, and no inbound email was filed.
    wait_until(lambda: len(api.get("/v1/tickets").json().get("tickets", [])) >= 1, 30, "the customer's ticket")
    [ticket] = api.get("/v1/tickets").json()["tickets"]
    assert ticket["subject"] == "Where is my order?"
    assert "email.received" not in timeline(cid) | timeline(ann)

    # A later campaign sends nothing to the suppressed addresses.
    smtp.refuse.clear()
    before = len(smtp.received)
    autumn = send_campaign(api, "Autumn", segment["id"], template["id"])
    assert [m.rcpt_tos[0] for m in smtp.received[before:]] == ["dan@mkt.example"]
    records = api.get(f"/v1/campaigns/{autumn}/messages").json()["messages"]
    assert sorted((r["contactId"], r["status"], r["reason"]) for r in records) == sorted(
        [
            (ann, "SKIPPED", "suppressed"),
            (bob, "SKIPPED", "suppressed"),
            (cid, "SKIPPED", "suppressed"),
            (dan, "SENT", ""),
        ]
    )
