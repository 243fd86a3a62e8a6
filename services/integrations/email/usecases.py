"""Email use cases: send (idempotent, through the tenant's SMTP connection), capture (IMAP, cursor
and messages in one transaction), and support's public replies sent as threaded email."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import events_pb2
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1 import tickets_pb2
from google.protobuf import timestamp_pb2
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.tokens import Principal
from services.integrations.connections import (
    Connections,
    Credentials,
    DeadLetter,
    SyncRun,
    SyncState,
    add_dead_letter,
    claim_external_id,
    get_cursor,
    put_cursor,
)
from services.integrations.connectors import Step, StreamSpec
from services.integrations.email import mime, protocols, reports
from services.integrations.store import INBOX, EmailDeliveryRow

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
CAPTURE_BATCH = 50
EMAIL_OBJECT = "email"


def _stamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def report_events(
    connection_id: str, report: reports.Report, now: timestamp_pb2.Timestamp | None
) -> list[events_pb2.EmailBounceReceived | events_pb2.EmailComplaintReceived]:
    """What a captured report says, as events (a delivery report: one per recipient that bounced)."""
    if isinstance(report, reports.FeedbackReport):
        complaint = events_pb2.EmailComplaintReceived(
            connection_id=connection_id,
            original_message_id=report.original_message_id,
            recipient=report.recipient,
            feedback_type=report.feedback_type,
            report_id=report.report_id,
            occur_time=now,
        )
        return [complaint]
    return [
        events_pb2.EmailBounceReceived(
            connection_id=connection_id,
            original_message_id=report.original_message_id,
            recipient=b.recipient,
            status=b.status,
            action=b.action,
            diagnostic=b.diagnostic,
            permanent=b.permanent,
            source="dsn",
            report_id=report.report_id,
            occur_time=now,
        )
        for b in report.bounces
    ]


def refusal_events(
    row: EmailDeliveryRow, refused: Mapping[str, tuple[int, bytes | str]], now: dt.datetime
) -> list[events_pb2.EmailBounceReceived]:
    """Recipients the SMTP server refused while we sent (smtplib's refused map): a 5xx reply is a
    hard bounce, a 4xx a soft one."""
    found = []
    for address, (code, text) in sorted(refused.items()):
        diagnostic = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        found.append(
            events_pb2.EmailBounceReceived(
                connection_id=row.connection_id,
                original_message_id=row.message_id,
                recipient=address.strip().lower(),
                status=str(code),
                action="failed",
                diagnostic=f"smtp; {code} {diagnostic}"[: reports.MAX_DIAGNOSTIC],
                permanent=500 <= int(code) < 600,
                source="smtp",
                report_id=row.id,
                delivery_id=row.id,
                occur_time=_stamp(now),
            )
        )
    return found


@dataclass(frozen=True)
class Delivery:
    id: str
    tenant_id: str
    connection_id: str
    message_id: str
    status: str
    error: str
    to_addresses: tuple[str, ...]
    sent_time: dt.datetime | None


def _delivery(row: EmailDeliveryRow) -> Delivery:
    return Delivery(
        row.id,
        row.tenant_id,
        row.connection_id,
        row.message_id,
        row.status,
        row.error,
        tuple(row.to_addresses),
        row.sent_time,
    )


@dataclass(frozen=True)
class SendRequest:
    idempotency_key: str
    connection_id: str
    outgoing: mime.Outgoing
    origin: str = ""
    origin_ref: str = ""


class Emails:
    def __init__(self, database: Database, outbox: Outbox, connections: Connections, clock: Clock = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.connections = connections
        self.clock = clock
        # Set when a delivery was queued, so the sender worker sends at once instead of polling.
        self.queued = threading.Event()

    def smtp_connection(self, tenant_id: str, connection_id: str) -> Credentials:
        if connection_id:
            found = self.connections.credentials(tenant_id, connection_id)
            if found.connection.data.type != "SMTP":
                raise InvalidArgument.of([FieldViolation("connection_id", "is not an SMTP connection")])
            return found
        candidates = self.connections.of_type("SMTP", tenant_id)
        support = [c for c in candidates if c.connection.data.purpose == "support"]
        if support or len(candidates) == 1:
            return (support or candidates)[0]
        raise FailedPrecondition(
            "no SMTP connection to send with: create one, or name connection_id when there are several"
        )

    def send(self, principal: Principal, request: SendRequest) -> Delivery:
        """Queue and send now; the same idempotency key answers the first delivery and sends nothing."""
        key = request.idempotency_key.strip()
        if not key or len(key) > 200:
            raise InvalidArgument.of([FieldViolation("idempotency_key", "is required (at most 200 characters)")])
        with self.database.transaction() as session:
            existing = self._by_key(session, principal.tenant_id, key)
        if existing is not None:
            return existing
        smtp = self.smtp_connection(principal.tenant_id, request.connection_id)
        outgoing = request.outgoing
        if not outgoing.from_address:
            outgoing = replace(outgoing, from_address=smtp.connection.data.from_address)
        with self.database.transaction() as session:
            delivery_id = self.enqueue(
                session,
                principal.tenant_id,
                key,
                smtp.connection.id,
                mime.validate(outgoing),
                request.origin,
                request.origin_ref,
            )
        self.deliver(delivery_id)
        with self.database.transaction() as session:
            row = session.get(EmailDeliveryRow, delivery_id)
            assert row is not None
            return _delivery(row)

    def enqueue(
        self,
        session: Session,
        tenant_id: str,
        key: str,
        connection_id: str,
        outgoing: mime.Outgoing,
        origin: str,
        origin_ref: str,
    ) -> str:
        """Write a QUEUED delivery in the caller's transaction, unless the key has one: its id either way."""
        raw = mime.compose(outgoing, self.clock()).as_bytes()
        values = {
            "id": new_id(),
            "tenant_id": tenant_id,
            "idempotency_key": key,
            "connection_id": connection_id,
            "message_id": outgoing.message_id,
            "from_address": outgoing.from_address,
            "recipients": [*outgoing.to_addresses, *outgoing.cc_addresses],
            "to_addresses": list(outgoing.to_addresses),
            "cc_addresses": list(outgoing.cc_addresses),
            "subject": outgoing.subject,
            "in_reply_to": outgoing.in_reply_to,
            "raw": raw,
            "origin": origin[:64],
            "origin_ref": origin_ref[:200],
            "status": "QUEUED",
            "error": "",
            "create_time": self.clock(),
            "sent_time": None,
        }
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        created = session.execute(
            insert(EmailDeliveryRow).values(**values).on_conflict_do_nothing().returning(EmailDeliveryRow.id)
        ).first()
        if created is None:
            existing = self._by_key(session, tenant_id, key)
            assert existing is not None
            return existing.id
        self.queued.set()
        return str(created[0])

    @staticmethod
    def _by_key(session: Session, tenant_id: str, key: str) -> Delivery | None:
        row = session.scalars(
            sa.select(EmailDeliveryRow).where(
                EmailDeliveryRow.tenant_id == tenant_id, EmailDeliveryRow.idempotency_key == key
            )
        ).first()
        return _delivery(row) if row is not None else None

    def deliver(self, delivery_id: str) -> None:
        """Send a QUEUED delivery once: only the caller whose claim (QUEUED -> SENDING) wins sends it.
        A crash while SENDING leaves it SENDING: at most once, never twice."""
        with self.database.transaction() as session:
            claimed = session.execute(
                sa.update(EmailDeliveryRow)
                .where(EmailDeliveryRow.id == delivery_id, EmailDeliveryRow.status == "QUEUED")
                .values(status="SENDING")
                .returning(EmailDeliveryRow.id)
            ).first()
            row = session.get(EmailDeliveryRow, delivery_id) if claimed else None
            if row is None:
                return
            tenant_id, connection_id = row.tenant_id, row.connection_id
            raw, sender, recipients = row.raw, row.from_address, list(row.recipients)
        failure, refused = "", {}
        try:
            credentials = self.connections.credentials(tenant_id, connection_id)
            with protocols.smtp_session(credentials) as client:
                refused = client.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused: each one bounced
            refused = exc.recipients
            failure = f"{type(exc).__name__}: {exc}"[:2000]
        except Exception as exc:  # recorded on the delivery: the server's answer, never the password
            failure = f"{type(exc).__name__}: {exc}"[:2000]
        with self.database.transaction() as session:
            row = session.get(EmailDeliveryRow, delivery_id)
            assert row is not None
            now = self.clock()
            # The message was handed over (or refused for good): nothing reads it again, so it is not
            # kept (data minimisation; the delivery's addresses, subject and status stay: ADR 65).
            row.raw = b""
            bounces = refusal_events(row, refused, now)
            self.outbox.add_all(session, [(e, row.tenant_id, row.id) for e in bounces])
            if failure:
                row.status, row.error = "FAILED", failure
                log.warning("email delivery %s failed: %s", delivery_id, failure.split(":")[0])
                return
            # Accepted for at least one recipient; the ones the server refused are noted.
            error = "refused: " + ", ".join(sorted(refused)) if refused else ""
            row.status, row.error, row.sent_time = "SENT", error, now
            event = events_pb2.OutboundEmailSent(
                delivery_id=row.id,
                message_id=row.message_id,
                to_addresses=list(row.to_addresses),
                subject=row.subject,
                origin=row.origin,
                origin_ref=row.origin_ref,
                sent_time=_stamp(now),
                connection_id=row.connection_id,
                cc_addresses=list(row.cc_addresses),
                in_reply_to=row.in_reply_to,
            )
            self.outbox.add(session, event, tenant_id=row.tenant_id, subject=row.id)

    def deliver_queued(self, limit: int = 100) -> int:
        with self.database.transaction() as session:
            ids = list(
                session.scalars(
                    sa.select(EmailDeliveryRow.id)
                    .where(EmailDeliveryRow.status == "QUEUED")
                    .order_by(EmailDeliveryRow.id)
                    .limit(limit)
                )
            )
        for delivery_id in ids:
            self.deliver(delivery_id)
        return len(ids)


class Capture:
    """IMAP capture: new messages since the cursor, each emitted once (deduplicated by Message-ID
    through the external-id map), the cursor moved in the same transaction."""

    def __init__(self, database: Database, outbox: Outbox, clock: Clock = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    @staticmethod
    def stream(credentials: Credentials) -> str:
        return f"imap:{credentials.connection.data.mailbox}"

    def sync(self, credentials: Credentials, run: SyncRun) -> SyncRun:
        connection = credentials.connection
        stream = self.stream(credentials)
        counts = {"fetched_count": 0, "created_count": 0, "skipped_count": 0, "failed_count": 0}
        with protocols.imap_session(credentials) as client:
            uidvalidity = protocols.select(client, connection.data.mailbox)
            with self.database.transaction() as session:
                cursor = get_cursor(session, connection.id, stream)
            last_uid = int(cursor.get("last_uid", 0))
            if cursor and int(cursor.get("uidvalidity", 0)) != uidvalidity:
                # The server renumbered the mailbox: read it all again; Message-IDs keep it duplicate-free.
                log.info("connection %s: UIDVALIDITY changed, resyncing %s", connection.id, stream)
                last_uid = 0
            while True:
                batch = protocols.fetch_after(client, last_uid, CAPTURE_BATCH)
                if not batch:
                    break
                with self.database.transaction() as session:
                    for uid, raw in batch:
                        counts["fetched_count"] += 1
                        outcome = self._capture(session, credentials, raw, f"uid {uidvalidity}/{uid}")
                        counts[f"{outcome}_count"] += 1
                    last_uid = batch[-1][0]
                    put_cursor(
                        session,
                        connection.tenant_id,
                        connection.id,
                        stream,
                        {"uidvalidity": uidvalidity, "last_uid": last_uid},
                    )
            if not cursor or int(cursor.get("uidvalidity", 0)) != uidvalidity:
                with self.database.transaction() as session:
                    put_cursor(
                        session,
                        connection.tenant_id,
                        connection.id,
                        stream,
                        {"uidvalidity": uidvalidity, "last_uid": last_uid},
                    )
        return replace(run, **counts)  # type: ignore[arg-type]

    def _capture(self, session: Session, credentials: Credentials, raw: bytes, where: str) -> str:
        connection = credentials.connection
        try:
            with session.begin_nested():
                read = self._read(raw)
                if claim_external_id(session, connection.tenant_id, connection.id, EMAIL_OBJECT, read[0], new_id()):
                    return "skipped"
                self._emit(session, credentials, read[1])
        except Exception as exc:  # a message we cannot read must not stop the mailbox
            log.warning("connection %s: message at %s dead-lettered: %s", connection.id, where, type(exc).__name__)
            add_dead_letter(
                session,
                connection.tenant_id,
                connection.id,
                self.stream(credentials),
                where,
                raw,
                f"{type(exc).__name__}: {exc}",
            )
            return "failed"
        return "created"

    def _read(self, raw: bytes) -> tuple[str, mime.Incoming | reports.Report]:
        """The message's id and what it is: a bounce or complaint report (never an inbound email:
        no ticket, no timeline entry), or ordinary mail."""
        message = mime.message_of(raw)
        message_id = mime.message_id_of(message, raw)
        report = reports.read(message, message_id)
        return message_id, report if report is not None else mime.incoming(message, raw, self.clock())

    def _emit(self, session: Session, credentials: Credentials, read: mime.Incoming | reports.Report) -> None:
        connection = credentials.connection
        if not isinstance(read, mime.Incoming):
            now = _stamp(self.clock())
            events = report_events(connection.id, read, now)
            self.outbox.add_all(session, [(e, connection.tenant_id, connection.id) for e in events])
            return
        incoming = read
        event = events_pb2.InboundEmailReceived(
            connection_id=connection.id,
            message_id=incoming.message_id,
            in_reply_to=incoming.in_reply_to,
            references=list(incoming.references),
            from_address=incoming.from_address,
            from_name=incoming.from_name,
            to_addresses=list(incoming.to_addresses),
            cc_addresses=list(incoming.cc_addresses),
            subject=incoming.subject,
            text_body=incoming.text_body,
            received_time=_stamp(incoming.received_time),
            mailbox_purpose=connection.data.purpose,
            support_addresses=list(connection.data.support_addresses),
        )
        self.outbox.add(session, event, tenant_id=connection.tenant_id, subject=connection.id)

    def replay(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        """Process a dead-lettered message again (raises while it still cannot be read)."""
        message_id, read = self._read(letter.payload)
        connection = credentials.connection
        if not claim_external_id(session, connection.tenant_id, connection.id, EMAIL_OBJECT, message_id, new_id()):
            self._emit(session, credentials, read)


class SmtpConnector:
    """SMTP connections: checked; they send (Emails) and have nothing to sync."""

    type = "SMTP"
    streams: tuple[StreamSpec, ...] = ()

    def check(self, credentials: Credentials) -> tuple[bool, list[Step]]:
        return protocols.check(credentials)

    def sync(self, credentials: Credentials, run: SyncRun, full_refresh: bool) -> SyncRun:
        raise FailedPrecondition("an SMTP connection has nothing to sync")

    def replay(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        raise FailedPrecondition(f"stream {letter.stream} cannot be replayed")


class ImapConnector:
    """IMAP connections: one stream, the mailbox, captured from its UID cursor."""

    type = "IMAP"
    streams: tuple[StreamSpec, ...] = (StreamSpec("imap", cursor_field="uid"),)

    def __init__(self, capture: Capture) -> None:
        self.capture = capture

    def check(self, credentials: Credentials) -> tuple[bool, list[Step]]:
        return protocols.check(credentials)

    def sync(self, credentials: Credentials, run: SyncRun, full_refresh: bool) -> SyncRun:
        # UIDVALIDITY already forces a reread when needed; Message-IDs keep a reread duplicate-free.
        return self.capture.sync(credentials, run)

    def replay(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        self.capture.replay(session, credentials, letter)


class EmailWorker:
    """Sends queued deliveries as soon as they are queued, and captures every IMAP connection every
    `poll_seconds` (each capture a sync run)."""

    def __init__(self, emails: Emails, sync: SyncState, poll_seconds: float, tick_seconds: float = 1.0) -> None:
        self.emails = emails
        self.sync = sync
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self.next_capture = 0.0

    def run(self, stop: threading.Event) -> None:
        every(self.tick_seconds, lambda: self.tick(stop), "email worker tick", wake=self.emails.queued)(stop)

    def tick(self, stop: threading.Event) -> None:
        self.emails.deliver_queued()
        now = dt.datetime.now(dt.UTC).timestamp()
        if now >= self.next_capture:
            self.next_capture = now + self.poll_seconds
            for credentials in self.sync.connections.of_type("IMAP"):
                if stop.is_set():
                    break
                self.sync.run(credentials, "scheduled")


def support_replies(database: Database, emails: Emails) -> EventConsumer:
    """Support's public replies on email tickets go out as email, threaded onto the conversation."""

    def on_comment(session: Session, envelope: Envelope, event: support_events.CommentAdded) -> None:
        comment = event.comment
        if (
            comment.visibility != tickets_pb2.Comment.PUBLIC
            or comment.author_type == tickets_pb2.Comment.REQUESTER
            or event.channel != tickets_pb2.Ticket.EMAIL
            or not event.reply_to_address
        ):
            return
        try:
            smtp = emails.smtp_connection(envelope.tenant, "")
        except FailedPrecondition:
            log.warning(
                "tenant %s has no SMTP connection for support replies; comment %s not sent", envelope.tenant, comment.id
            )
            return
        sender = smtp.connection.data.from_address
        references = [r for r in event.references if r] or (
            [event.external_thread_id] if event.external_thread_id else []
        )
        subject = event.subject or "Your request"
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        outgoing = mime.validate(
            mime.Outgoing(
                from_address=sender,
                to_addresses=(event.reply_to_address,),
                cc_addresses=(),
                subject=subject,
                text_body=comment.body,
                html_body="",
                headers={},
                in_reply_to=references[-1] if references else "",
                references=tuple(references),
                message_id=comment.external_message_id or f"comment-{comment.id}@{sender.rpartition('@')[2]}",
            )
        )
        emails.enqueue(
            session,
            envelope.tenant,
            f"support-comment:{comment.id}",
            smtp.connection.id,
            outgoing,
            "support",
            comment.ticket_id,
        )

    return EventConsumer(
        "integrations.support-replies",
        database,
        INBOX,
        [Handles(support_events.CommentAdded, on_comment)],  # type: ignore[arg-type]
    )
