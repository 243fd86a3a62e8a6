"""Connections, SMTP sending and IMAP capture against real servers (aiosmtpd with STARTTLS and
AUTH; a private Dovecot), on PostgreSQL, with support turning captured mail into tickets and its
public replies going out as threaded email."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import connections_pb2, connections_pb2_grpc, email_pb2, email_pb2_grpc, events_pb2
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1 import tickets_pb2, tickets_pb2_grpc

from crmkit.config import Settings
from crmkit.events.consumer import EventConsumer
from crmkit.grpcserver import start_server
from crmkit.secretbox import new_key
from crmkit.tokens import Principal
from services.integrations.module import build
from services.integrations.store import OUTBOX, ConnectionRow
from tests.integration.support_helpers import AGENT_A, TOKENS, as_, code_of, violations
from tests.mailservers import Certificate, PrivateDovecot, SmtpServer, self_signed, smtp_connection

ADMIN_A = Principal("TENANT_A", "apikey:ia", frozenset({"integrations:read", "integrations:write"}))
ADMIN_B = Principal("TENANT_B", "apikey:ib", frozenset({"integrations:read", "integrations:write"}))
Conn = connections_pb2.Connection
IMAP_PASSWORD = "imap-pass-7f3a"


class Integrations:
    def __init__(self, database, keys: str) -> None:  # type: ignore[no-untyped-def]
        self.database = database
        self.module = build(
            Settings.from_env(
                {"CRM_INTEGRATIONS_DATABASE_URL": database.url, "CRM_SECRET_KEYS": keys, "CRM_LOG_FORMAT": "text"}
            )
        )
        self.server = start_server(
            "integrations", self.module.registrations, self.module.grpc_services, "127.0.0.1:0", TOKENS
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.connections = connections_pb2_grpc.ConnectionsServiceStub(self.channel)
        self.email = email_pb2_grpc.EmailServiceStub(self.channel)

    def consumer(self, name: str) -> EventConsumer:
        return next(c for c in self.module.consumers if c.name == name)

    def events(self, kind: str) -> list[Envelope]:
        with self.database.transaction() as session:
            rows = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars()
            return [e for e in (Envelope.FromString(p) for p in rows) if e.type.endswith(kind)]

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0)
        self.module.database.dispose()


@pytest.fixture(scope="module")
def certificate() -> Certificate:
    return self_signed()


@pytest.fixture
def smtp(certificate: Certificate, tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(certificate).start(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def integrations(migrated) -> Iterator[Integrations]:  # type: ignore[no-untyped-def]
    running = Integrations(migrated("integrations"), new_key())
    yield running
    running.stop()


def test_smtp_connection_is_checked_and_sends_once_per_key_and_its_secret_never_shows(
    integrations: Integrations, smtp: SmtpServer, certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub = integrations.connections
    created = stub.CreateConnection(
        connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, smtp.password)),
        metadata=as_(ADMIN_A),
    )
    assert created.has_password and created.password == "" and created.key_id
    fetched = stub.GetConnection(connections_pb2.GetConnectionRequest(id=created.id), metadata=as_(ADMIN_A))
    listed = stub.ListConnections(connections_pb2.ListConnectionsRequest(), metadata=as_(ADMIN_A))
    for answer in (created, fetched, listed):
        assert smtp.password.encode() not in answer.SerializeToString()
    with integrations.database.transaction() as session:
        sealed = session.scalars(sa.select(ConnectionRow.sealed_secret)).one()
    assert sealed and smtp.password not in sealed
    assert (
        code_of(lambda: stub.GetConnection(connections_pb2.GetConnectionRequest(id=created.id), metadata=as_(ADMIN_B)))
        == grpc.StatusCode.NOT_FOUND
    )

    check = stub.CheckConnection(connections_pb2.CheckConnectionRequest(id=created.id), metadata=as_(ADMIN_A))
    assert check.ok, check
    assert [s.name for s in check.steps] == ["connect", "ehlo", "starttls", "ehlo", "auth", "noop"]

    wrong = stub.CreateConnection(
        connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, "not-the-password")),
        metadata=as_(ADMIN_A),
    )
    refused = stub.CheckConnection(connections_pb2.CheckConnectionRequest(id=wrong.id), metadata=as_(ADMIN_A))
    assert not refused.ok and refused.steps[-1].name == "auth" and "535" in refused.steps[-1].detail
    assert "not-the-password" not in str(refused)

    request = email_pb2.SendEmailRequest(
        idempotency_key="campaign-42:contact-7",
        connection_id=created.id,
        to_addresses=["ann@example.com"],
        cc_addresses=["boss@example.com"],
        subject="Spring offer",
        text_body="Hello Ann",
        html_body="<p>Hello Ann</p>",
        headers={
            "List-Unsubscribe": "<https://acme.example.com/u/7>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        in_reply_to="<earlier@example.com>",
        origin="marketing",
        origin_ref="campaign-42",
    )
    first = integrations.email.SendEmail(request, metadata=as_(ADMIN_A))
    again = integrations.email.SendEmail(request, metadata=as_(ADMIN_A))
    assert first.status == email_pb2.EmailDelivery.SENT, first.error
    assert again.id == first.id and again.message_id == first.message_id
    assert len(smtp.received) == 1  # the repeated key sent nothing
    mail = smtp.received[0]
    assert sorted(mail.rcpt_tos) == ["ann@example.com", "boss@example.com"]
    assert b"List-Unsubscribe: <https://acme.example.com/u/7>" in mail.data
    assert b"In-Reply-To: <earlier@example.com>" in mail.data
    assert f"Message-ID: <{first.message_id}>".encode() in mail.data
    assert "PLAIN" in smtp.auth_attempts or "LOGIN" in smtp.auth_attempts

    [sent] = integrations.events("OutboundEmailSent")
    payload = events_pb2.OutboundEmailSent.FromString(sent.data)
    assert (payload.delivery_id, payload.origin, list(payload.to_addresses)) == (
        first.id,
        "marketing",
        ["ann@example.com"],
    )
    with integrations.database.transaction() as session:
        every_event = b"".join(session.execute(sa.select(OUTBOX.c.payload)).scalars())
    assert smtp.password.encode() not in every_event
    assert smtp.password not in caplog.text and "not-the-password" not in caplog.text

    bad = violations(
        lambda: integrations.email.SendEmail(
            email_pb2.SendEmailRequest(
                idempotency_key="k2",
                to_addresses=["not-an-address"],
                subject="x",
                text_body="y",
                headers={"Bcc": "spy@example.com"},
                connection_id=created.id,
            ),
            metadata=as_(ADMIN_A),
        )
    )
    assert bad == {"to_addresses[0]", "headers[Bcc]"}
    assert len(smtp.received) == 1


def test_secrets_are_resealed_under_a_new_key_and_the_old_key_can_then_go(
    migrated,
    smtp: SmtpServer,
    certificate: Certificate,  # type: ignore[no-untyped-def]
) -> None:
    database = migrated("integrations")
    old, new = new_key(), new_key()
    before = Integrations(database, old)
    try:
        created = before.connections.CreateConnection(
            connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, smtp.password)),
            metadata=as_(ADMIN_A),
        )
    finally:
        before.stop()
    both = Integrations(database, f"{new},{old}")
    try:
        servicer = next(s for _, s in both.module.registrations if type(s).__name__ == "ConnectionsServicer")
        connections = servicer.connections  # type: ignore[attr-defined]
        assert connections.rotate_secrets() == 1
        assert connections.rotate_secrets() == 0
    finally:
        both.stop()
    after = Integrations(database, new)
    try:
        fetched = after.connections.GetConnection(
            connections_pb2.GetConnectionRequest(id=created.id), metadata=as_(ADMIN_A)
        )
        assert fetched.key_id != created.key_id
        check = after.connections.CheckConnection(
            connections_pb2.CheckConnectionRequest(id=created.id), metadata=as_(ADMIN_A)
        )
        assert check.ok, check
    finally:
        after.stop()


def mail(
    message_id: str, subject: str, body: str, *, sender: str = "carol@customer.example.com", extra: str = ""
) -> bytes:
    headers = (
        f"From: Carol <{sender}>\r\nTo: help@acme.example.com\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
    )
    return (headers + extra + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


def deliver(consumer: EventConsumer, envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        outcome = consumer.handle(envelope.SerializeToString(), 0)
        assert outcome.verdict.value == "ack", outcome


def test_imap_mail_opens_a_ticket_the_reply_goes_out_threaded_and_a_new_uidvalidity_duplicates_nothing(
    integrations: Integrations,
    smtp: SmtpServer,
    certificate: Certificate,
    support,  # type: ignore[no-untyped-def]
) -> None:
    dovecot = PrivateDovecot(certificate, {"support": IMAP_PASSWORD}).start()
    try:
        _run_mail_round_trip(integrations, smtp, certificate, support, dovecot)
    finally:
        dovecot.stop()


def _run_mail_round_trip(integrations, smtp, certificate, support, dovecot) -> None:  # type: ignore[no-untyped-def]
    stub = integrations.connections
    imap = stub.CreateConnection(
        connections_pb2.CreateConnectionRequest(
            connection=Conn(
                type=Conn.IMAP,
                display_name="Support inbox",
                host="127.0.0.1",
                port=dovecot.port,
                security=Conn.STARTTLS,
                username="support",
                password=IMAP_PASSWORD,
                purpose="support",
                support_addresses=["help@acme.example.com"],
                ca_certificate=certificate.cert_pem,
            )
        ),
        metadata=as_(ADMIN_A),
    )
    assert imap.mailbox == "INBOX"
    stub.CreateConnection(
        connections_pb2.CreateConnectionRequest(
            connection=smtp_connection(smtp, certificate, smtp.password, "support")
        ),
        metadata=as_(ADMIN_A),
    )
    check = stub.CheckConnection(connections_pb2.CheckConnectionRequest(id=imap.id), metadata=as_(ADMIN_A))
    assert check.ok and [s.name for s in check.steps] == ["connect", "starttls", "login", "select"], check

    dovecot.append("support", mail("first@customer.example.com", "Printer on fire", "It is on fire."))
    dovecot.append("support", b"Subject: no sender at all\r\n\r\nwho am I\r\n")
    sync = connections_pb2.SyncConnectionRequest(id=imap.id)
    run = stub.SyncConnection(sync, metadata=as_(ADMIN_A))
    assert (run.status, run.fetched_count, run.created_count, run.failed_count) == (
        connections_pb2.SyncRun.SUCCEEDED,
        2,
        1,
        1,
    ), run
    [letter] = stub.ListDeadLetters(
        connections_pb2.ListDeadLettersRequest(connection_id=imap.id), metadata=as_(ADMIN_A)
    ).dead_letters
    assert "From" in letter.error
    replayed = stub.ReplayDeadLetter(
        connections_pb2.ReplayDeadLetterRequest(connection_id=imap.id, id=letter.id), metadata=as_(ADMIN_A)
    )
    assert replayed.attempts == 2 and not replayed.HasField("resolve_time")

    [received] = integrations.events("InboundEmailReceived")
    inbound = events_pb2.InboundEmailReceived.FromString(received.data)
    assert (inbound.message_id, inbound.from_address, inbound.mailbox_purpose) == (
        "first@customer.example.com",
        "carol@customer.example.com",
        "support",
    )
    intake = next(c for c in support.module.consumers if c.name == "support.email-intake")
    deliver(intake, [received])
    deliver(intake, [received])  # redelivered: the inbox drops it
    tickets = support.stub(tickets_pb2_grpc.TicketsServiceStub)
    [ticket] = tickets.ListTickets(tickets_pb2.ListTicketsRequest(), metadata=as_(AGENT_A)).tickets
    assert (ticket.channel, ticket.external_thread_id, ticket.subject) == (
        tickets_pb2.Ticket.EMAIL,
        "first@customer.example.com",
        "Printer on fire",
    )

    reply = tickets.AddComment(
        tickets_pb2.AddCommentRequest(ticket_id=ticket.id, comment=tickets_pb2.Comment(body="Use the extinguisher.")),
        metadata=as_(AGENT_A),
    )
    assert reply.external_message_id.endswith("@acme.example.com") and reply.in_reply_to == "first@customer.example.com"
    [comment_added] = [e for e in support.events(ticket.id) if e.type.endswith("CommentAdded")]
    added = support_events.CommentAdded.FromString(comment_added.data)
    assert added.reply_to_address == "carol@customer.example.com" and list(added.references) == [
        "first@customer.example.com"
    ]
    replies = integrations.consumer("integrations.support-replies")
    deliver(replies, [comment_added])
    deliver(replies, [Envelope(**{**_fields(comment_added), "id": "another-envelope-id"})])  # same comment again
    emails = replies_emails(integrations)
    assert emails.deliver_queued() == 1
    [out] = smtp.received
    assert out.rcpt_tos == ["carol@customer.example.com"]
    assert b"In-Reply-To: <first@customer.example.com>" in out.data
    assert f"Message-ID: <{reply.external_message_id}>".encode() in out.data
    assert b"Subject: Re: Printer on fire" in out.data

    dovecot.append(
        "support",
        mail(
            "second@customer.example.com",
            "Re: Printer on fire",
            "Out now, thanks.",
            extra=(
                f"In-Reply-To: <{reply.external_message_id}>\r\n"
                f"References: <first@customer.example.com> <{reply.external_message_id}>\r\n"
            ),
        ),
    )
    run = stub.SyncConnection(sync, metadata=as_(ADMIN_A))
    assert (run.fetched_count, run.created_count) == (1, 1), run
    deliver(intake, integrations.events("InboundEmailReceived")[1:])
    assert len(tickets.ListTickets(tickets_pb2.ListTicketsRequest(), metadata=as_(AGENT_A)).tickets) == 1
    comments = tickets.ListComments(
        tickets_pb2.ListCommentsRequest(ticket_id=ticket.id), metadata=as_(AGENT_A)
    ).comments
    assert [(c.author_type, c.external_message_id) for c in comments] == [
        (tickets_pb2.Comment.AGENT, reply.external_message_id),
        (tickets_pb2.Comment.REQUESTER, "second@customer.example.com"),
    ]

    dovecot.change_uidvalidity("support")
    run = stub.SyncConnection(sync, metadata=as_(ADMIN_A))
    assert (run.status, run.fetched_count, run.created_count, run.skipped_count) == (
        connections_pb2.SyncRun.SUCCEEDED,
        3,
        0,
        2,
    ), run
    assert len(integrations.events("InboundEmailReceived")) == 2
    runs = stub.ListSyncRuns(
        connections_pb2.ListSyncRunsRequest(connection_id=imap.id), metadata=as_(ADMIN_A)
    ).sync_runs
    assert len(runs) == 3 and runs[0].id == run.id
    assert (
        code_of(
            lambda: stub.ListSyncRuns(connections_pb2.ListSyncRunsRequest(connection_id=imap.id), metadata=as_(ADMIN_B))
        )
        == grpc.StatusCode.NOT_FOUND
    )


def _fields(envelope: Envelope) -> dict[str, object]:
    return {f.name: v for f, v in envelope.ListFields()}


def replies_emails(integrations: Integrations):  # type: ignore[no-untyped-def]
    servicer = next(s for _, s in integrations.module.registrations if type(s).__name__ == "EmailServicer")
    return servicer.emails  # type: ignore[attr-defined]


def test_sending_and_capture_work_on_sqlite_too(tmp_path: Path, smtp: SmtpServer, certificate: Certificate) -> None:
    from crmkit.db import Database
    from crmkit.migrations import upgrade
    from services.integrations.module import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'integrations.db'}"
    upgrade(MIGRATIONS, url)
    embedded = Integrations(Database(url), "")  # no CRM_SECRET_KEYS: the key the migration generated
    dovecot = PrivateDovecot(certificate, {"support": IMAP_PASSWORD}).start()
    try:
        stub = embedded.connections
        sender = stub.CreateConnection(
            connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, smtp.password)),
            metadata=as_(ADMIN_A),
        )
        request = email_pb2.SendEmailRequest(
            idempotency_key="k", to_addresses=["ann@example.com"], subject="Hi", text_body="Hello"
        )
        first = embedded.email.SendEmail(request, metadata=as_(ADMIN_A))
        assert first.status == email_pb2.EmailDelivery.SENT and first.connection_id == sender.id, first
        assert embedded.email.SendEmail(request, metadata=as_(ADMIN_A)).id == first.id and len(smtp.received) == 1

        imap = stub.CreateConnection(
            connections_pb2.CreateConnectionRequest(
                connection=Conn(
                    type=Conn.IMAP,
                    display_name="Inbox",
                    host="localhost",
                    port=dovecot.port,
                    security=Conn.STARTTLS,
                    username="support",
                    password=IMAP_PASSWORD,
                    ca_certificate=certificate.cert_pem,
                )
            ),
            metadata=as_(ADMIN_A),
        )
        dovecot.append("support", mail("one@customer.example.com", "One", "1"))
        dovecot.append("support", b"Subject: unreadable\r\n\r\n?\r\n")
        sync = connections_pb2.SyncConnectionRequest(id=imap.id)
        run = stub.SyncConnection(sync, metadata=as_(ADMIN_A))
        assert (run.status, run.created_count, run.failed_count) == (connections_pb2.SyncRun.SUCCEEDED, 1, 1), run
        dovecot.change_uidvalidity("support")
        run = stub.SyncConnection(sync, metadata=as_(ADMIN_A))
        assert (run.created_count, run.skipped_count) == (0, 1), run
        assert len(embedded.events("InboundEmailReceived")) == 1
    finally:
        dovecot.stop()
        embedded.stop()


def test_captured_mail_and_the_agents_reply_travel_over_rabbitmq(  # type: ignore[no-untyped-def]
    integrations: Integrations, smtp: SmtpServer, certificate: Certificate, support, amqp_url, amqp_prefix
) -> None:
    from crmkit.events.rabbitmq import RabbitBus
    from crmkit.events.relay import OutboxRelay
    from services.support.store import OUTBOX as SUPPORT_OUTBOX
    from tests.integration.events_support import RunningConsumer, wait_until

    bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)
    intake = next(c for c in support.module.consumers if c.name == "support.email-intake")
    replies = integrations.consumer("integrations.support-replies")
    for consumer in (intake, replies):
        bus.declare(consumer.subscription)
    publisher = bus.publisher()
    relays = [
        OutboxRelay(integrations.database, OUTBOX, publisher, source="integrations"),
        OutboxRelay(support.database, SUPPORT_OUTBOX, publisher, source="support"),
    ]
    running = [RunningConsumer(bus, c.subscription, c.handle_batch) for c in (intake, replies)]
    dovecot = PrivateDovecot(certificate, {"support": IMAP_PASSWORD}).start()
    try:
        stub = integrations.connections
        imap = stub.CreateConnection(
            connections_pb2.CreateConnectionRequest(
                connection=Conn(
                    type=Conn.IMAP,
                    display_name="Support",
                    host="localhost",
                    port=dovecot.port,
                    security=Conn.STARTTLS,
                    username="support",
                    password=IMAP_PASSWORD,
                    purpose="support",
                    ca_certificate=certificate.cert_pem,
                )
            ),
            metadata=as_(ADMIN_A),
        )
        stub.CreateConnection(
            connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, smtp.password)),
            metadata=as_(ADMIN_A),
        )
        dovecot.append("support", mail("bus@customer.example.com", "Over the broker", "Hello"))
        assert (
            stub.SyncConnection(connections_pb2.SyncConnectionRequest(id=imap.id), metadata=as_(ADMIN_A)).created_count
            == 1
        )
        relays[0].publish_batch()
        tickets = support.stub(tickets_pb2_grpc.TicketsServiceStub)
        listed = lambda: tickets.ListTickets(tickets_pb2.ListTicketsRequest(), metadata=as_(AGENT_A)).tickets  # noqa: E731
        wait_until(lambda: len(listed()) == 1, what="the ticket from the captured mail")
        [ticket] = listed()
        tickets.AddComment(
            tickets_pb2.AddCommentRequest(ticket_id=ticket.id, comment=tickets_pb2.Comment(body="On it.")),
            metadata=as_(AGENT_A),
        )
        relays[1].publish_batch()
        emails = replies_emails(integrations)
        wait_until(lambda: emails.deliver_queued() or smtp.received, what="the reply to be queued and sent")
        [out] = smtp.received
        assert out.rcpt_tos == ["carol@customer.example.com"] and b"In-Reply-To: <bus@customer.example.com>" in out.data
    finally:
        dovecot.stop()
        for consumer in running:
            consumer.close()
        publisher.close()
