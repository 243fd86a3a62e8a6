"""Sending one templated message to one contact: the single send path of marketing (campaigns and
sequence steps both call `Delivery.send`). docs/adr/0052.

    delivery = Delivery(database, outbox, mailer, tracking)
    record = delivery.send(Outgoing(
        tenant_id=..., contact_id=..., origin="campaign" | "sequence", ref_id=<campaign id | step ref>,
        template=TemplateParts(subject, html_body, text_body),
        from_address="", subject="", campaign_id="", campaign_name="", sequence_id="", connection_id="",
    ))
    record.status  # SENT, SKIPPED (record.reason), RENDER_FAILED (record.render_error), FAILED
                   # (record.error), or SENDING (integrations unreachable: call send again later)

What it does, in order:
1. In one transaction, under the lock of the recipient's message record (one per tenant, origin,
   ref id and contact; created here when the caller has none): a record already final is returned
   as it is. Otherwise `consent.may_send` decides (there is no other way past it): refused → the
   record is SKIPPED with the reason. The template is rendered for the contact (`{{ contact.* }}`,
   `{{ unsubscribeUrl }}`): an error → RENDER_FAILED with the error, nothing sent (never half a
   message). Else the record becomes SENDING with the rendered subject and the message's links.
2. `EmailService.SendEmail` (integrations) with the idempotency key
   `marketing:<origin>:<ref id>:<contact id>`, the HTML part with its links through the click
   redirect and an open pixel, and the RFC 8058 headers `List-Unsubscribe: <https://…>` and
   `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The call runs outside any transaction.
3. In one transaction: the record becomes SENT (or FAILED with integrations' error) and
   `EmailSent` is written through the outbox.

A crash between 1 and 3 leaves the record SENDING; calling `send` again re-renders and calls
SendEmail with the same key, which answers the first delivery and sends nothing: never twice.
An unreachable integrations service leaves it SENDING too (retry later). `ref_id` must identify
the message for this contact once: a campaign's id; for a sequence, the enrolment step.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import grpc
from crm.integrations.v1 import email_pb2, email_pb2_grpc
from crm.marketing.v1 import events_pb2 as marketing_events
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.events.outbox import Outbox
from crmkit.grpcclient import service_channel
from crmkit.ids import new_id
from crmkit.tokens import InternalTokens, Principal, acting_as
from services.marketing import store
from services.marketing.domain import templating
from services.marketing.domain.consent import Recipient, may_send, normalise_email
from services.marketing.domain.tracking import TrackingUrls, list_unsubscribe_headers, track_html
from services.marketing.store import MessageRow

log = logging.getLogger(__name__)

CAMPAIGN, SEQUENCE = "campaign", "sequence"
ORIGINS = (CAMPAIGN, SEQUENCE)
PENDING, SENDING, SENT, FAILED, SKIPPED, RENDER_FAILED = (
    "PENDING",
    "SENDING",
    "SENT",
    "FAILED",
    "SKIPPED",
    "RENDER_FAILED",
)
FINAL = frozenset({SENT, FAILED, SKIPPED, RENDER_FAILED})
# Integrations could not be asked (or did not answer): the same key is tried again later.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)
# Who marketing is when it calls integrations with no user behind the call (docs/adr/0052).
SERVICE_SUBJECT = "service:marketing"
SEND_SCOPES = frozenset({"integrations:write"})


@dataclass(frozen=True)
class Outgoing:
    """One message for one contact. `origin` is "campaign" or "sequence"; `ref_id` names the message
    for this contact once (the campaign id; a sequence's enrolment step)."""

    tenant_id: str
    contact_id: str
    origin: str
    ref_id: str
    template: templating.TemplateParts
    # Overrides the template's subject when set (rendered as a template too).
    subject: str = ""
    # The SMTP connection's from address when empty.
    from_address: str = ""
    campaign_id: str = ""
    campaign_name: str = ""
    sequence_id: str = ""
    # The tenant's default SMTP connection when empty.
    connection_id: str = ""


@dataclass(frozen=True)
class MessageRecord:
    id: str
    tenant_id: str
    origin: str
    ref_id: str
    campaign_id: str
    sequence_id: str
    contact_id: str
    email: str
    status: str
    reason: str
    render_error: str
    error: str
    subject: str
    delivery_id: str
    create_time: dt.datetime
    sent_time: dt.datetime | None
    first_open_time: dt.datetime | None
    open_count: int
    first_click_time: dt.datetime | None
    bounce_time: dt.datetime | None
    unsubscribe_time: dt.datetime | None


def record_of(row: MessageRow) -> MessageRecord:
    return MessageRecord(
        row.id,
        row.tenant_id,
        row.origin,
        row.ref_id,
        row.campaign_id,
        row.sequence_id,
        row.contact_id,
        row.email,
        row.status,
        row.reason,
        row.render_error,
        row.error,
        row.subject,
        row.delivery_id,
        row.create_time,
        row.sent_time,
        row.first_open_time,
        row.open_count,
        row.first_click_time,
        row.bounce_time,
        row.unsubscribe_time,
    )


def new_message_row(
    tenant_id: str,
    origin: str,
    ref_id: str,
    contact_id: str,
    now: dt.datetime,
    campaign_id: str = "",
    sequence_id: str = "",
) -> MessageRow:
    return MessageRow(
        tenant_id=tenant_id,
        id=new_id(),
        origin=origin,
        ref_id=ref_id,
        campaign_id=campaign_id,
        sequence_id=sequence_id,
        contact_id=contact_id,
        email="",
        status=PENDING,
        reason="",
        render_error="",
        error="",
        subject="",
        links=[],
        delivery_id="",
        rfc_message_id="",
        create_time=now,
        open_count=0,
        clicked_urls=[],
    )


def rfc_message_id(record_id: str, from_address: str, base_url: str) -> str:
    """The Message-ID of a message record (without brackets): bounce and complaint reports quote
    it back (docs/adr/0067). Its domain is the sender's, else marketing's public host."""
    domain = from_address.rpartition("@")[2] or urlsplit(base_url).hostname or "localhost"
    return f"{record_id.lower()}.marketing@{domain.lower()}"


def idempotency_key(origin: str, ref_id: str, contact_id: str) -> str:
    """Derived from what the message is, never random: a crashed and restarted sender asks for the
    same delivery, which integrations answers without sending again."""
    return f"marketing:{origin}:{ref_id}:{contact_id}"


class Mailer(Protocol):
    def send(self, tenant_id: str, request: email_pb2.SendEmailRequest) -> email_pb2.EmailDelivery: ...


class IntegrationsMailer:
    """integrations' EmailService, called as the tenant's marketing service principal: background
    work has no caller to forward, so it mints its own identity with only `integrations:write`."""

    def __init__(self, address: str, deadline_seconds: float, tokens: Callable[[], InternalTokens]) -> None:
        self.address = address
        self.deadline = deadline_seconds
        self.tokens = tokens
        self._stub: email_pb2_grpc.EmailServiceStub | None = None

    def send(self, tenant_id: str, request: email_pb2.SendEmailRequest) -> email_pb2.EmailDelivery:
        if self._stub is None:
            self._stub = email_pb2_grpc.EmailServiceStub(service_channel(self.address, self.deadline))
        with acting_as(self.tokens(), Principal(tenant_id, SERVICE_SUBJECT, SEND_SCOPES)):
            reply: email_pb2.EmailDelivery = self._stub.SendEmail(request)
            return reply


@dataclass(frozen=True)
class _Prepared:
    record: MessageRecord
    request: email_pb2.SendEmailRequest | None


class Delivery:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        mailer: Mailer,
        tracking: Callable[[], TrackingUrls],
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.mailer = mailer
        self.tracking = tracking
        self.clock = clock

    def send(self, outgoing: Outgoing) -> MessageRecord:
        """Send `outgoing` once (see the module docstring); the recipient's message record after it."""
        if outgoing.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}")
        prepared = self._prepare(outgoing)
        if prepared.request is None:
            return prepared.record
        try:
            delivery = self.mailer.send(outgoing.tenant_id, prepared.request)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            if code in RETRYABLE:
                log.warning("integrations did not take message %s (%s); retried later", prepared.record.id, code)
                return prepared.record
            return self._finish(outgoing, prepared.record.id, None, f"{code.name}: {exc.details() or ''}")
        if delivery.status == email_pb2.EmailDelivery.FAILED:
            return self._finish(outgoing, prepared.record.id, delivery, delivery.error or "refused by the mail server")
        return self._finish(outgoing, prepared.record.id, delivery, "")

    def _prepare(self, outgoing: Outgoing) -> _Prepared:
        now = self.clock()
        tenant, contact = outgoing.tenant_id, outgoing.contact_id
        # Before the transaction: the first call reads the signing key in a transaction of its own,
        # which on SQLite (one writer at a time) would wait for this one forever.
        urls = self.tracking()
        with self.database.transaction() as session:
            row = store.message_for(session, tenant, outgoing.origin, outgoing.ref_id, contact, for_update=True)
            if row is None:
                row = new_message_row(
                    tenant, outgoing.origin, outgoing.ref_id, contact, now, outgoing.campaign_id, outgoing.sequence_id
                )
                session.add(row)
                session.flush()
            if row.status in FINAL:
                return _Prepared(record_of(row), None)
            member = store.get(session, tenant, contact)
            if member is None:
                return _Prepared(self._close(row, SKIPPED, reason="unknown_contact"), None)
            row.email = member.email
            suppressed = store.suppressed_among(session, tenant, [normalise_email(member.email)])
            decision = may_send(Recipient(member, store.subscriptions(session, tenant, contact)), "email", suppressed)
            if not decision.allowed:
                return _Prepared(self._close(row, SKIPPED, reason=decision.reason), None)
            unsubscribe_url = urls.unsubscribe_url(tenant, row.id)
            parts = outgoing.template
            if outgoing.subject:
                parts = templating.TemplateParts(outgoing.subject, parts.html_body, parts.text_body)
            context = {"contact": templating.contact_context(member), "unsubscribeUrl": unsubscribe_url}
            rendered = templating.render(parts, context)
            if isinstance(rendered, templating.RenderError):
                error = f"{rendered.part}: {rendered.message}"
                return _Prepared(self._close(row, RENDER_FAILED, render_error=error), None)
            tracked = track_html(rendered.html_body, tenant, row.id, urls, keep=unsubscribe_url)
            row.status, row.subject, row.links = SENDING, rendered.subject, tracked.links
            # Chosen here, before the send: a bounce reported at once still finds the record by it.
            row.rfc_message_id = row.rfc_message_id or rfc_message_id(row.id, outgoing.from_address, urls.base_url)
            request = email_pb2.SendEmailRequest(
                idempotency_key=idempotency_key(outgoing.origin, outgoing.ref_id, contact),
                connection_id=outgoing.connection_id,
                from_address=outgoing.from_address,
                to_addresses=[member.email],
                subject=rendered.subject,
                text_body=rendered.text_body,
                html_body=tracked.html_body,
                headers=list_unsubscribe_headers(unsubscribe_url),
                origin="marketing",
                origin_ref=f"{outgoing.origin}:{outgoing.ref_id}",
                message_id=row.rfc_message_id,
            )
            return _Prepared(record_of(row), request)

    @staticmethod
    def _close(
        row: MessageRow, status: str, *, reason: str = "", render_error: str = "", error: str = ""
    ) -> MessageRecord:
        row.status, row.reason, row.render_error, row.error = status, reason, render_error, error
        return record_of(row)

    def _finish(
        self, outgoing: Outgoing, message_id: str, delivery: email_pb2.EmailDelivery | None, error: str
    ) -> MessageRecord:
        now = self.clock()
        with self.database.transaction() as session:
            row = store.get_message(session, outgoing.tenant_id, message_id, for_update=True)
            assert row is not None
            if row.status != SENDING:  # another sender finished it meanwhile
                return record_of(row)
            if delivery is not None:
                row.delivery_id, row.rfc_message_id = delivery.id, delivery.message_id
            if error:
                return self._close(row, FAILED, reason="send_failed", error=error)
            row.status, row.sent_time = SENT, now
            self._emit_sent(session, outgoing, row, now)
            return record_of(row)

    def _emit_sent(self, session: Session, outgoing: Outgoing, row: MessageRow, now: dt.datetime) -> None:
        event = marketing_events.EmailSent(
            engagement=engagement_of(row, outgoing.campaign_name, now), subject=row.subject
        )
        self.outbox.add(session, event, tenant_id=row.tenant_id, subject=row.contact_id)


def engagement_of(row: MessageRow, campaign_name: str, now: dt.datetime) -> marketing_events.Engagement:
    """Who was engaged by which message, as every engagement event carries it."""
    engagement = marketing_events.Engagement(
        contact_id=row.contact_id,
        email=row.email,
        campaign_id=row.campaign_id,
        campaign_name=campaign_name,
        sequence_id=row.sequence_id,
        message_id=row.id,
    )
    engagement.occur_time.FromDatetime(now)
    return engagement
