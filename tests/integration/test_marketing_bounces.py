"""Bounces and complaints end to end (docs/adr/0067), on PostgreSQL and RabbitMQ with real mail
servers: an SMTP server (aiosmtpd) that refuses recipients at RCPT TO, and a private Dovecot holding
a real RFC 3464 delivery status notification and an RFC 5965 abuse report about campaign messages.
Integrations reports them; marketing marks its messages, emits EmailBounced / EmailComplained and
suppresses the addresses; no report becomes inbound mail (no ticket, no timeline email)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import connections_pb2, events_pb2
from crm.marketing.v1 import events_pb2 as marketing_events

from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.ids import new_id
from services.integrations.store import OUTBOX as INTEGRATIONS_OUTBOX
from services.marketing import store
from services.marketing.bounces import bounce_consumer
from services.marketing.campaigns import Campaigns
from services.marketing.delivery import CAMPAIGN, FAILED, SENT, SKIPPED, Delivery, IntegrationsMailer, Outgoing
from services.marketing.domain.campaigns import CampaignFields
from services.marketing.events import engagement_log
from services.marketing.store import OUTBOX
from services.marketing.tracking import TrackingKey
from services.marketing.usecases import Consent, SegmentFields, Segments, Templates
from tests.integration.events_support import RunningConsumer, wait_until
from tests.integration.marketing_helpers import TEMPLATE, Integrations, SmtpServer, T, member
from tests.integration.support_helpers import TOKENS, as_
from tests.integration.test_integrations_email import ADMIN_A, mail
from tests.mail_reports import arf, dsn
from tests.mailservers import Certificate, PrivateDovecot

Conn = connections_pb2.Connection
BOUNCES_PASSWORD = "bounces-pass-91c2"


def marketing_events_of(database, kind: str) -> list[Envelope]:  # type: ignore[no-untyped-def]
    with database.transaction() as session:
        rows = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars()
        return [e for e in (Envelope.FromString(p) for p in rows) if e.type.endswith(kind)]


def test_refusals_bounce_reports_and_complaints_suppress_and_never_become_inbound_mail(  # type: ignore[no-untyped-def]
    migrated,
    integrations_smtp: Integrations,
    smtp_server: SmtpServer,
    mail_certificate: Certificate,
    amqp_url,
    amqp_prefix,
) -> None:
    database = migrated("marketing")
    for name in ("ann", "bob", "cid", "dee", "eve", "fay"):
        member(database, name, f"{name}@example.com", True, plan="pro")
    smtp_server.refuse["bob@example.com"] = "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown"
    smtp_server.refuse["eve@example.com"] = "450 4.2.1 <eve@example.com>: Mailbox busy, try later"
    segment = Segments(database).create(T, SegmentFields("Everyone", "STATIC", {}))
    template = Templates(database).create(T, "Spring", TEMPLATE)
    campaigns = Campaigns(database)
    spring = campaigns.create(T, CampaignFields("Spring", segment.row.id, template.id)).row.id
    autumn = campaigns.create(T, CampaignFields("Autumn", segment.row.id, template.id)).row.id
    outbox = Outbox("marketing", OUTBOX)
    mailer = IntegrationsMailer(f"127.0.0.1:{integrations_smtp.server.port}", 30, lambda: TOKENS)
    delivery = Delivery(database, outbox, mailer, TrackingKey(database, "", "https://crm.example.com").urls)

    def send(campaign_id: str, contact: str):  # type: ignore[no-untyped-def]
        return delivery.send(Outgoing(T, contact, CAMPAIGN, campaign_id, TEMPLATE, campaign_id=campaign_id))

    first = {c: send(spring, c) for c in ("ann", "bob", "cid", "dee", "eve")}
    assert {c: r.status for c, r in first.items()} == {
        "ann": SENT,
        "bob": FAILED,  # refused 550 at RCPT TO: a hard bounce
        "cid": SENT,
        "dee": SENT,
        "eve": FAILED,  # refused 450: a soft bounce
    }
    refusals = [
        events_pb2.EmailBounceReceived.FromString(e.data) for e in integrations_smtp.events("EmailBounceReceived")
    ]
    assert sorted((b.recipient, b.status, b.permanent, b.source) for b in refusals) == [
        ("bob@example.com", "550", True, "smtp"),
        ("eve@example.com", "450", False, "smtp"),
    ]
    assert {b.original_message_id for b in refusals} == {first["bob"].id.lower() + ".marketing@crm.example.com"} | {
        first["eve"].id.lower() + ".marketing@crm.example.com"
    }
    with database.transaction() as session:
        ids = {c: store.get_message(session, T, r.id).rfc_message_id for c, r in first.items()}  # type: ignore[union-attr]

    dovecot = PrivateDovecot(mail_certificate, {"bounces": BOUNCES_PASSWORD}).start()
    bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)
    bounces, engagements = bounce_consumer(database, outbox), engagement_log(database)
    running = []
    for consumer in (bounces, engagements):
        bus.declare(consumer.subscription)
        running.append(RunningConsumer(bus, consumer.subscription, consumer.handle_batch))
    publisher = bus.publisher()
    relays = [
        OutboxRelay(integrations_smtp.database, INTEGRATIONS_OUTBOX, publisher, source="integrations"),
        OutboxRelay(database, OUTBOX, publisher, source="marketing"),
    ]
    try:
        dovecot.append("bounces", dsn(ids["cid"], [("cid@example.com", "failed", "5.1.1")]))
        dovecot.append("bounces", arf(ids["dee"], "dee@example.com"))
        # Ann tells her provider the message is not spam (RFC 6430): no complaint.
        not_spam = arf(ids["ann"], "ann@example.com", feedback_type="not-spam", report_id="arf-2@fbl.mailbox.example")
        dovecot.append("bounces", not_spam)
        # A hard bounce of a support reply (mail marketing did not send): fay is suppressed all the same.
        dovecot.append(
            "bounces",
            dsn("reply-7@acme.example.com", [("fay@example.com", "failed", "5.1.1")], report_id="dsn-2@mx.example.net"),
        )
        # A delay notice for ann's message is no bounce.
        dovecot.append(
            "bounces",
            dsn(ids["ann"], [("ann@example.com", "delayed", "4.4.7")], report_id="dsn-3@mx.example.net"),
        )
        broken = dsn(ids["ann"], [("ann@example.com", "failed", "5.1.1")], report_id="dsn-4@mx.example.net")
        dovecot.append("bounces", broken.replace(b"Action: failed\r\n", b""))  # malformed: a dead letter
        dovecot.append("bounces", mail("hello@customer.example.com", "Thanks", "Real mail."))
        stub = integrations_smtp.connections
        imap = stub.CreateConnection(
            connections_pb2.CreateConnectionRequest(
                connection=Conn(
                    type=Conn.IMAP,
                    display_name="Bounces",
                    host="localhost",
                    port=dovecot.port,
                    security=Conn.STARTTLS,
                    username="bounces",
                    password=BOUNCES_PASSWORD,
                    ca_certificate=mail_certificate.cert_pem,
                )
            ),
            metadata=as_(ADMIN_A),
        )
        run = stub.SyncConnection(connections_pb2.SyncConnectionRequest(id=imap.id), metadata=as_(ADMIN_A))
        assert (run.fetched_count, run.created_count, run.failed_count) == (7, 6, 1), run
        [letter] = stub.ListDeadLetters(
            connections_pb2.ListDeadLettersRequest(connection_id=imap.id), metadata=as_(ADMIN_A)
        ).dead_letters
        assert "Action" in letter.error
        # Only the real mail is inbound mail (support's intake and the contacts timeline read it);
        # no report became one.
        [inbound] = integrations_smtp.events("InboundEmailReceived")
        assert events_pb2.InboundEmailReceived.FromString(inbound.data).message_id == "hello@customer.example.com"
        complaint, _not_spam = integrations_smtp.events("EmailComplaintReceived")
        assert events_pb2.EmailComplaintReceived.FromString(complaint.data).original_message_id == ids["dee"]

        expected = {
            "bob@example.com": "HARD_BOUNCE",
            "cid@example.com": "HARD_BOUNCE",
            "dee@example.com": "COMPLAINT",
            "fay@example.com": "HARD_BOUNCE",
        }

        def suppressed() -> dict[str, str]:
            for relay in relays:
                relay.publish_batch()
            return {s.email: s.reason for s in Consent(database).suppressions(T, "", 50)[0]}

        wait_until(lambda: suppressed() == expected, 30, "the bounces and the complaint to suppress")
        wait_until(lambda: campaigns.analytics(T, spring).bounced == 1, 30, "cid's bounce in the analytics")
    finally:
        dovecot.stop()
        publisher.close()
        for r in running:
            r.close()

    found = campaigns.analytics(T, spring)
    assert (found.sent, found.failed, found.bounced, found.delivered) == (3, 2, 1, 2)
    with database.transaction() as session:
        rows = {c: store.get_message(session, T, r.id) for c, r in first.items()}
        marks = {c: (r.bounce_time is not None, r.bounce_hard, r.complaint_time is not None) for c, r in rows.items()}  # type: ignore[union-attr]
        logged = {
            c: {e.kind for e in store.engagements(session, T, c, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))} for c in first
        }
    assert marks == {
        "ann": (False, False, False),
        "bob": (True, True, False),
        "cid": (True, True, False),
        "dee": (False, False, True),
        "eve": (True, False, False),  # recorded, not suppressing
    }
    assert {"bounced"} <= logged["cid"] and {"complained"} <= logged["dee"] and "bounced" not in logged["ann"]
    bounced = [marketing_events.EmailBounced.FromString(e.data) for e in marketing_events_of(database, "EmailBounced")]
    assert sorted((b.engagement.contact_id, b.hard, b.engagement.campaign_name) for b in bounced) == [
        ("bob", True, "Spring"),
        ("cid", True, "Spring"),
        ("eve", False, "Spring"),
    ]
    assert next(b.reason for b in bounced if b.engagement.contact_id == "cid").startswith("5.1.1 smtp; 550 5.1.1")

    # Redelivered reports (a new envelope, the same report) change nothing.
    for envelope in [*integrations_smtp.events("EmailBounceReceived"), complaint]:
        again = Envelope()
        again.CopyFrom(envelope)
        again.id = new_id()
        assert bounces.handle(again.SerializeToString(), 0).verdict.value == "ack"
    assert len(marketing_events_of(database, "EmailBounced")) == 3
    assert len(marketing_events_of(database, "EmailComplained")) == 1

    # A later campaign sends nothing to a suppressed address; the soft bounce still gets mail.
    smtp_server.refuse.clear()
    received = len(smtp_server.received)
    later = {c: send(autumn, c) for c in ("ann", "bob", "cid", "dee", "eve", "fay")}
    assert {c: (r.status, r.reason) for c, r in later.items()} == {
        "ann": (SENT, ""),
        "bob": (SKIPPED, "suppressed"),
        "cid": (SKIPPED, "suppressed"),
        "dee": (SKIPPED, "suppressed"),
        "eve": (SENT, ""),
        "fay": (SKIPPED, "suppressed"),
    }
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received[received:]) == ["ann@example.com", "eve@example.com"]

    # A later report that eve's mailbox is gone for good turns her soft bounce hard: one more
    # EmailBounced, and it suppresses.
    hard = events_pb2.EmailBounceReceived(
        original_message_id=ids["eve"], recipient="eve@example.com", status="5.1.1", action="failed", permanent=True
    )
    report = Envelope(
        id=new_id(), type=hard.DESCRIPTOR.full_name, source="integrations", tenant=T, data=hard.SerializeToString()
    )
    report.time.GetCurrentTime()
    assert bounces.handle(report.SerializeToString(), 0).verdict.value == "ack"
    *_, turned = marketing_events_of(database, "EmailBounced")
    assert marketing_events.EmailBounced.FromString(turned.data).hard
    assert engagements.handle(turned.SerializeToString(), 0).verdict.value == "ack"
    assert (
        dict((s.email, s.reason) for s in Consent(database).suppressions(T, "", 50)[0])["eve@example.com"]
        == "HARD_BOUNCE"
    )
