"""The 360° timeline: every other service's events projected as they arrive (consumer
`contacts.timeline`), and the reads of a contact's or account's timeline (docs/adr/0034)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import events_pb2 as integrations
from crm.marketing.v1 import events_pb2 as marketing
from crm.sales.v1 import events_pb2 as sales
from crm.support.v1 import events_pb2 as support
from crm.support.v1 import surveys_pb2, tickets_pb2
from google.protobuf import timestamp_pb2
from google.type import money_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.errors import FieldViolation, InvalidArgument, NotFound
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.pagination import keyset_after, listing_scope, page_of, page_size
from crmkit.tokens import Principal
from services.contacts import store, store_accounts, timeline_store
from services.contacts import timeline_rules as rules
from services.contacts.store import INBOX
from services.contacts.timeline_rules import Entry, Money
from services.contacts.timeline_store import StoredEntry

CONSUMER = "contacts.timeline"
Status = tickets_pb2.Ticket.Status


# --- projection -------------------------------------------------------------------------------


def _time(value: timestamp_pb2.Timestamp, envelope: Envelope) -> dt.datetime:
    """The event's own time when it carries one, else when it was written (the envelope)."""
    chosen = value if (value.seconds or value.nanos) else envelope.time
    return chosen.ToDatetime(tzinfo=dt.UTC)


def _money(value: money_pb2.Money) -> Money:
    return Money(value.currency_code, value.units, value.nanos)


def _file(session: Session, envelope: Envelope, *entries: Entry) -> None:
    timeline_store.add_entries(session, envelope.tenant, entries)


def _opportunity(snapshot: sales.OpportunitySnapshot) -> dict[str, Any]:
    fields = ("id", "name", "pipeline_id", "stage_id", "stage_name", "stage_category", "contact_id", "account_id")
    return {name: getattr(snapshot, name) for name in (*fields, "owner_id")}


def on_opportunity_created(session: Session, envelope: Envelope, event: sales.OpportunityCreated) -> None:
    o = event.opportunity
    _file(
        session,
        envelope,
        rules.deal_entry("deal.opened", _opportunity(o), _time(o.update_time, envelope), _money(o.amount)),
    )


def on_opportunity_stage_changed(session: Session, envelope: Envelope, event: sales.OpportunityStageChanged) -> None:
    o = event.opportunity
    entry = rules.deal_entry(
        "deal.stage_changed",
        _opportunity(o),
        _time(o.update_time, envelope),
        _money(o.amount),
        from_stage=event.from_stage_name,
    )
    _file(session, envelope, entry)


def on_opportunity_closed(
    session: Session, envelope: Envelope, event: sales.OpportunityWon | sales.OpportunityLost
) -> None:
    o = event.opportunity
    kind = "deal.won" if isinstance(event, sales.OpportunityWon) else "deal.lost"
    entry = rules.deal_entry(
        kind, _opportunity(o), _time(o.update_time, envelope), _money(o.amount), reason=event.reason
    )
    _file(session, envelope, entry)


def _ticket(ticket: tickets_pb2.Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "description": ticket.description,
        "requester_id": ticket.requester_id,
        "priority": tickets_pb2.Ticket.Priority.Name(ticket.priority),
        "status": Status.Name(ticket.status),
        "channel": tickets_pb2.Ticket.Channel.Name(ticket.channel),
    }


def on_ticket_created(session: Session, envelope: Envelope, event: support.TicketCreated) -> None:
    ticket = event.ticket
    _file(session, envelope, rules.ticket_entry("ticket.opened", _ticket(ticket), _time(ticket.create_time, envelope)))


def on_ticket_status_changed(session: Session, envelope: Envelope, event: support.TicketStatusChanged) -> None:
    if event.to_status != Status.SOLVED:
        return
    ticket = event.ticket
    _file(session, envelope, rules.ticket_entry("ticket.solved", _ticket(ticket), _time(ticket.solve_time, envelope)))


def on_survey_answered(session: Session, envelope: Envelope, event: support.SurveyAnswered) -> None:
    entry = rules.survey_entry(
        event.survey_id,
        surveys_pb2.Survey.Kind.Name(event.kind),
        event.ticket_id,
        event.requester_id,
        event.score,
        event.comment,
        _time(event.response_time, envelope),
    )
    _file(session, envelope, entry)


def _engagement(value: marketing.Engagement) -> dict[str, Any]:
    names = ("contact_id", "campaign_id", "campaign_name", "sequence_id", "message_id")
    return {name: getattr(value, name) for name in names}


def on_engagement(
    session: Session,
    envelope: Envelope,
    event: marketing.EmailSent
    | marketing.EmailOpened
    | marketing.EmailClicked
    | marketing.EmailBounced
    | marketing.Unsubscribed
    | marketing.FormSubmitted,
) -> None:
    summary, extra = "", {}
    if isinstance(event, marketing.EmailSent):
        kind, summary = "email.sent", event.subject
    elif isinstance(event, marketing.EmailOpened):
        kind = "email.opened"
    elif isinstance(event, marketing.EmailClicked):
        kind, summary, extra = "email.clicked", event.url, {"url": event.url}
    elif isinstance(event, marketing.EmailBounced):
        kind, summary, extra = "email.bounced", event.reason, {"hard": event.hard}
    elif isinstance(event, marketing.Unsubscribed):
        kind, extra = "email.unsubscribed", {"channel": event.channel}
        summary = f"from {event.channel}" if event.channel else ""
    else:
        kind, summary, extra = "form.submitted", event.form_name, {"formId": event.form_id}
    engagement = event.engagement
    time = _time(engagement.occur_time, envelope)
    _file(session, envelope, rules.engagement_entry(kind, _engagement(engagement), time, summary, extra))


def on_quote_accepted(session: Session, envelope: Envelope, event: sales.QuoteAccepted) -> None:
    entry = rules.money_entry(
        "quote.accepted",
        rules.SALES,
        event.quote_id,
        event.quote_number,
        event.contact_id,
        event.account_id,
        _money(event.grand_total),
        _time(event.accept_time, envelope),
        {"opportunityId": event.opportunity_id, "lineCount": len(event.lines)},
    )
    _file(session, envelope, entry)


def _date(value: Any) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}" if value.year else ""


def on_invoice_created(session: Session, envelope: Envelope, event: integrations.InvoiceCreated) -> None:
    entry = rules.money_entry(
        "invoice.created",
        rules.INTEGRATIONS,
        event.invoice_id,
        event.invoice_number,
        event.contact_id,
        event.account_id,
        _money(event.total),
        envelope.time.ToDatetime(tzinfo=dt.UTC),
        {
            "externalSystem": event.external_system,
            "opportunityId": event.opportunity_id,
            "quoteId": event.quote_id,
            "issueDate": _date(event.issue_date),
            "dueDate": _date(event.due_date),
        },
    )
    _file(session, envelope, entry)


def on_payment_received(session: Session, envelope: Envelope, event: integrations.PaymentReceived) -> None:
    entry = rules.money_entry(
        "payment.received",
        rules.INTEGRATIONS,
        event.payment_id,
        "",
        event.contact_id,
        event.account_id,
        _money(event.amount),
        _time(event.paid_time, envelope),
        {"invoiceId": event.invoice_id, "externalSystem": event.external_system},
    )
    _file(session, envelope, entry)


def on_inbound_email(session: Session, envelope: Envelope, event: integrations.InboundEmailReceived) -> None:
    """Filed on the timeline of every contact of the tenant whose address is in From, To or Cc.

    Matched once, when the mail arrives: a contact created later does not get older mail.
    """
    addresses = [event.from_address, *event.to_addresses, *event.cc_addresses]
    time = _time(event.received_time, envelope)
    contacts = timeline_store.contact_ids_with_emails(session, envelope.tenant, addresses)
    entries = [
        rules.inbound_email_entry(
            event.message_id or envelope.id, c, event.from_address, event.subject, event.text_body, time
        )
        for c in contacts
    ]
    _file(session, envelope, *entries)


def timeline_projection(database: Database) -> EventConsumer:
    engagements = (
        marketing.EmailSent,
        marketing.EmailOpened,
        marketing.EmailClicked,
        marketing.EmailBounced,
        marketing.Unsubscribed,
        marketing.FormSubmitted,
    )
    handles = [
        Handles(sales.OpportunityCreated, on_opportunity_created),
        Handles(sales.OpportunityStageChanged, on_opportunity_stage_changed),
        Handles(sales.OpportunityWon, on_opportunity_closed),
        Handles(sales.OpportunityLost, on_opportunity_closed),
        Handles(sales.QuoteAccepted, on_quote_accepted),
        Handles(support.TicketCreated, on_ticket_created),
        Handles(support.TicketStatusChanged, on_ticket_status_changed),
        Handles(support.SurveyAnswered, on_survey_answered),
        *(Handles(message, on_engagement) for message in engagements),
        Handles(integrations.InvoiceCreated, on_invoice_created),
        Handles(integrations.PaymentReceived, on_payment_received),
        Handles(integrations.InboundEmailReceived, on_inbound_email),
    ]
    return EventConsumer(CONSUMER, database, INBOX, handles)  # type: ignore[arg-type]


# --- reads ------------------------------------------------------------------------------------


class Timeline:
    def __init__(self, database: Database) -> None:
        self.database = database

    def of_contact(
        self, principal: Principal, contact_id: str, requested_size: int, page_token: str, filter: str
    ) -> tuple[list[StoredEntry], str]:
        def exists(session: Session) -> bool:
            contact = store.get(session, principal.tenant_id, contact_id)
            if contact is None:
                return False
            # A caller limited to its own records sees another owner's contact as absent (ADR 13).
            return not principal.own_records_only or contact.data.owner_id == principal.subject

        return self._page(principal, ("contact", contact_id), exists, requested_size, page_token, filter)

    def of_account(
        self, principal: Principal, account_id: str, requested_size: int, page_token: str, filter: str
    ) -> tuple[list[StoredEntry], str]:
        def exists(session: Session) -> bool:
            account = store_accounts.get_account(session, principal.tenant_id, account_id)
            if account is None:
                return False
            # A caller limited to its own records sees another owner's account as absent (ADR 13).
            return not principal.own_records_only or account.data.owner_id == principal.subject

        return self._page(principal, ("account", account_id), exists, requested_size, page_token, filter)

    def _page(
        self,
        principal: Principal,
        subject: tuple[str, str],
        exists: Callable[[Session], bool],
        requested_size: int,
        page_token: str,
        filter: str,
    ) -> tuple[list[StoredEntry], str]:
        size = page_size(requested_size)
        scope = listing_scope("timeline", subject[0], subject[1], filter)
        after = keyset_after(page_token, scope)
        with self.database.transaction() as session:
            if not exists(session):
                raise NotFound.resource(*subject)
            try:
                found = timeline_store.entry_page(session, principal.tenant_id, subject, filter, after, size + 1)
            except LookupError:
                raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")]) from None
        page, token = page_of(found, size, lambda item: item[1], scope)
        return [entry for entry, _ in page], token
