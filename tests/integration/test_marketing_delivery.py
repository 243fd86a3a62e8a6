"""Marketing's one send path (services/marketing/delivery.py) against the real integrations service
and a real SMTP server (aiosmtpd), on PostgreSQL: consent decides, templates fail per recipient,
tracking and RFC 8058 headers are in every message, and a crash never sends twice."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import email_pb2
from crm.marketing.v1 import events_pb2 as marketing_events

from crmkit.db import Database
from crmkit.events.outbox import Outbox
from services.marketing import store
from services.marketing.delivery import (
    CAMPAIGN,
    FAILED,
    RENDER_FAILED,
    SENDING,
    SENT,
    SKIPPED,
    Delivery,
    IntegrationsMailer,
    Outgoing,
)
from services.marketing.domain.templating import TemplateParts
from services.marketing.store import OUTBOX
from services.marketing.tracking import TrackingKey
from tests.integration.marketing_helpers import TEMPLATE, Integrations, SmtpServer, T, member
from tests.integration.support_helpers import TOKENS


def sent_events(database: Database) -> list[marketing_events.EmailSent]:
    with database.transaction() as session:
        payloads = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars().all()
    envelopes = [Envelope.FromString(p) for p in payloads]
    return [marketing_events.EmailSent.FromString(e.data) for e in envelopes if e.type.endswith("EmailSent")]


def outgoing(contact_id: str, template: TemplateParts = TEMPLATE) -> Outgoing:
    return Outgoing(T, contact_id, CAMPAIGN, "CAMPAIGN1", template, campaign_id="CAMPAIGN1", campaign_name="Spring")


class CrashAfterSending:
    """The mail goes out, then the process 'dies' before marketing records it."""

    def __init__(self, mailer: IntegrationsMailer) -> None:
        self.mailer = mailer

    def send(self, tenant_id: str, request: email_pb2.SendEmailRequest) -> email_pb2.EmailDelivery:
        self.mailer.send(tenant_id, request)
        raise SystemExit("crashed")


def test_one_message_per_allowed_recipient_with_tracking_and_one_click_headers_and_never_twice(
    migrated, integrations_smtp: Integrations, smtp_server: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    database = migrated("marketing")
    member(database, "ann", "ann@example.com", True, plan="pro")
    member(database, "bob", "bob@example.com", False, plan="pro")  # unsubscribed
    member(database, "cid", "Cid@Example.com", True, plan="pro")  # suppressed (a past hard bounce)
    member(database, "dee", "dee@example.com", True)  # no plan: the text part cannot render
    member(database, "eve", "eve@example.com", None, plan="pro")  # never subscribed
    with database.transaction() as session:
        store.suppress(session, T, store.Suppressed("cid@example.com", "HARD_BOUNCE", "cid", dt.datetime.now(dt.UTC)))
    mailer = IntegrationsMailer(f"127.0.0.1:{integrations_smtp.server.port}", 30, lambda: TOKENS)
    key = TrackingKey(database, "", "https://crm.example.com")
    delivery = Delivery(database, Outbox("marketing", OUTBOX), mailer, key.urls)

    records = {c: delivery.send(outgoing(c)) for c in ("ann", "bob", "cid", "dee", "eve")}
    assert {c: (r.status, r.reason) for c, r in records.items()} == {
        "ann": (SENT, ""),
        "bob": (SKIPPED, "unsubscribed"),
        "cid": (SKIPPED, "suppressed"),
        "dee": (RENDER_FAILED, ""),
        "eve": (SKIPPED, "no_consent"),
    }
    assert records["dee"].render_error.startswith("textBody:") and "plan" in records["dee"].render_error
    assert [m.rcpt_tos for m in smtp_server.received] == [["ann@example.com"]]
    mail = message_from_bytes(smtp_server.received[0].data, policy=policy.default)
    assert str(mail["List-Unsubscribe"]).startswith("<https://crm.example.com/v1/tracking/unsubscribes/")
    assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(mail["Subject"]) == "Hello Ann"
    html_part = mail.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "https://crm.example.com/v1/tracking/clicks/" in html and "/v1/tracking/opens/" in html
    assert "shop.example.com" not in html and "mailto:help@example.com" in html
    assert str(mail["List-Unsubscribe"]).strip("<>") in html  # the unsubscribe link is not a click redirect
    with database.transaction() as session:
        row = store.get_message(session, T, records["ann"].id)
        assert row is not None and row.links == ["https://shop.example.com/spring?a=1&b=2"]
        assert row.delivery_id and row.rfc_message_id
    [event] = sent_events(database)
    assert (event.engagement.contact_id, event.engagement.campaign_id, event.engagement.message_id) == (
        "ann",
        "CAMPAIGN1",
        records["ann"].id,
    )
    assert event.subject == "Hello Ann"

    again = delivery.send(outgoing("ann"))
    assert (again.id, again.status) == (records["ann"].id, SENT)
    assert len(smtp_server.received) == 1 and len(sent_events(database)) == 1


def test_a_crash_after_handing_over_the_mail_never_sends_it_twice(
    migrated, integrations_smtp: Integrations, smtp_server: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    database = migrated("marketing")
    member(database, "ann", "ann@example.com", True, plan="pro")
    mailer = IntegrationsMailer(f"127.0.0.1:{integrations_smtp.server.port}", 30, lambda: TOKENS)
    key = TrackingKey(database, "", "https://crm.example.com")
    crashing = Delivery(database, Outbox("marketing", OUTBOX), CrashAfterSending(mailer), key.urls)
    with pytest.raises(SystemExit):
        crashing.send(outgoing("ann"))
    with database.transaction() as session:
        [row] = session.scalars(sa.select(store.MessageRow)).all()
        assert row.status == SENDING
    assert len(smtp_server.received) == 1

    restarted = Delivery(database, Outbox("marketing", OUTBOX), mailer, key.urls)
    record = restarted.send(outgoing("ann"))
    assert record.status == SENT and record.delivery_id
    assert len(smtp_server.received) == 1  # integrations answered the first delivery for the same key
    assert len(sent_events(database)) == 1


def test_a_refused_send_is_recorded_as_failed_with_the_reason(migrated, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    """Without an SMTP connection integrations refuses the call: FAILED with its answer, no event."""
    from crmkit.secretbox import new_key

    database = migrated("marketing")
    bare = Integrations(migrated("integrations"), new_key())
    try:
        member(database, "ann", "ann@example.com", True, plan="pro")
        mailer = IntegrationsMailer(f"127.0.0.1:{bare.server.port}", 30, lambda: TOKENS)
        key = TrackingKey(database, "", "https://crm.example.com")
        record = Delivery(database, Outbox("marketing", OUTBOX), mailer, key.urls).send(outgoing("ann"))
    finally:
        bare.stop()
    assert record.status == FAILED and record.reason == "send_failed" and record.error
    assert smtp_server.received == [] and sent_events(database) == []
