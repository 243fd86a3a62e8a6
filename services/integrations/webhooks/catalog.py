"""The public event catalogue: which internal events partners see, under which names, with which data.

The one place that decides what leaves the suite. Internal names (protobuf messages) can change;
these public names and payload shapes are a contract. Anything not mapped here is never sent, and
the mappers drop what must stay inside (internal comments, survey tokens).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

from crm.contacts.v1 import events_pb2 as contact_events
from crm.sales.v1 import events_pb2 as sales_events
from crm.support.v1 import events_pb2 as support_events
from crm.support.v1 import tickets_pb2
from google.protobuf import json_format
from google.protobuf.message import Message


@dataclass(frozen=True)
class PublicEvent:
    type: str
    data: dict[str, object]


Mapper = Callable[[Message], list[PublicEvent]]


def _json(message: Message) -> dict[str, object]:
    return json_format.MessageToDict(message)  # lowerCamelCase, as the REST API


def _one(public_type: str, pick: Callable[[Message], Message]) -> Mapper:
    return lambda event: [PublicEvent(public_type, _json(pick(event)))]


def _whole(public_type: str) -> Mapper:
    return lambda event: [PublicEvent(public_type, _json(event))]


def _status_changed(event: Message) -> list[PublicEvent]:
    assert isinstance(event, support_events.TicketStatusChanged)
    found = [PublicEvent("ticket.status_changed", _json(event))]
    named = {tickets_pb2.Ticket.SOLVED: "ticket.solved", tickets_pb2.Ticket.CLOSED: "ticket.closed"}
    if event.to_status in named:
        found.append(PublicEvent(named[event.to_status], _json(event.ticket)))
    return found


def _comment_added(event: Message) -> list[PublicEvent]:
    assert isinstance(event, support_events.CommentAdded)
    # Agents' internal notes never leave the suite.
    if event.comment.visibility == tickets_pb2.Comment.INTERNAL:
        return []
    return [PublicEvent("ticket.comment_added", _json(event.comment))]


# internal message -> what partners get. Names: `<resource>.<past-tense verb>`, snake_case.
MAPPERS: dict[type[Message], Mapper] = {
    contact_events.ContactCreated: _one("contact.created", lambda e: e.contact),  # type: ignore[attr-defined]
    contact_events.ContactUpdated: _whole("contact.updated"),
    contact_events.ContactDeleted: _whole("contact.deleted"),
    contact_events.ContactsMerged: _whole("contact.merged"),
    contact_events.AccountCreated: _one("account.created", lambda e: e.account),  # type: ignore[attr-defined]
    contact_events.AccountUpdated: _whole("account.updated"),
    contact_events.AccountDeleted: _whole("account.deleted"),
    sales_events.LeadCreated: _one("lead.created", lambda e: e.lead),  # type: ignore[attr-defined]
    sales_events.LeadAssigned: _whole("lead.assigned"),
    sales_events.LeadConverted: _whole("lead.converted"),
    sales_events.OpportunityCreated: _one("opportunity.created", lambda e: e.opportunity),  # type: ignore[attr-defined]
    sales_events.OpportunityStageChanged: _whole("opportunity.stage_changed"),
    sales_events.OpportunityWon: _whole("opportunity.won"),
    sales_events.OpportunityLost: _whole("opportunity.lost"),
    sales_events.QuoteAccepted: _whole("quote.accepted"),
    support_events.TicketCreated: _one("ticket.created", lambda e: e.ticket),  # type: ignore[attr-defined]
    support_events.TicketUpdated: _whole("ticket.updated"),
    support_events.TicketStatusChanged: _status_changed,
    support_events.TicketAssigned: _whole("ticket.assigned"),
    support_events.CommentAdded: _comment_added,
    support_events.TicketSlaWarning: _whole("ticket.sla_warning"),
    support_events.TicketSlaBreached: _whole("ticket.sla_breached"),
    support_events.SurveyAnswered: _whole("survey.answered"),
}

EVENT_TYPES: dict[str, str] = {
    "contact.created": "A contact was created; data is the contact.",
    "contact.updated": "A contact changed; data has the contact and changedFields.",
    "contact.deleted": "A contact was deleted; data has contactId.",
    "contact.merged": "Contacts were merged; data has winnerId, loserIds and the winner as it is now.",
    "account.created": "An account was created; data is the account.",
    "account.updated": "An account changed; data has the account and changedFields.",
    "account.deleted": "An account was deleted; data has accountId.",
    "lead.created": "A lead was created; data is the lead.",
    "lead.assigned": "A lead got an owner; data has the lead, previousOwnerId and the reason.",
    "lead.converted": "A lead was converted; data has the lead, contactId, accountId and opportunityId.",
    "opportunity.created": "An opportunity was opened; data is the opportunity.",
    "opportunity.stage_changed": "An opportunity moved to another stage; data has it and its previous stage.",
    "opportunity.won": "An opportunity was won; data has the opportunity and the reason.",
    "opportunity.lost": "An opportunity was lost; data has the opportunity and the reason.",
    "quote.accepted": "A quote was accepted; data has the quote's lines and totals.",
    "ticket.created": "A ticket was opened; data is the ticket.",
    "ticket.updated": "A ticket changed; data has the ticket and changedFields.",
    "ticket.status_changed": "A ticket moved between statuses; data has fromStatus, toStatus and the ticket.",
    "ticket.solved": "A ticket was solved; data is the ticket.",
    "ticket.closed": "A ticket was closed; data is the ticket.",
    "ticket.assigned": "A ticket was assigned or went back to its group queue.",
    "ticket.comment_added": "A public comment was added to a ticket (internal notes are never sent).",
    "ticket.sla_warning": "A ticket's SLA target will be missed soon.",
    "ticket.sla_breached": "A ticket's SLA target was missed.",
    "survey.answered": "A customer answered a satisfaction survey.",
}


# A subscription may only take events about what its creator may read.
READ_SCOPES = {
    "contact": "contacts:read",
    "account": "contacts:read",
    "lead": "sales:read",
    "opportunity": "sales:read",
    "quote": "sales:read",
    "ticket": "support:read",
    "survey": "support:read",
}


def scope_of(event_type: str) -> str:
    """The read scope an event of this public type needs."""
    return READ_SCOPES[event_type.split(".", 1)[0]]


def scopes_for(pattern: str) -> set[str]:
    """The read scopes an event-type filter entry needs. `*` needs none: it means every event its
    creator may read, as fan-out only hands a subscription events within its read scopes."""
    if pattern == "*":
        return set()
    scope = READ_SCOPES.get(pattern.split(".", 1)[0])
    return {scope} if scope else set()


def public_events(message: Message) -> list[PublicEvent]:
    mapper = MAPPERS.get(type(message))
    return mapper(message) if mapper else []


def body(message_id: str, event: PublicEvent, tenant_id: str, time: dt.datetime) -> bytes:
    """The JSON a partner receives (and the bytes that are signed)."""
    envelope = {
        "id": message_id,
        "type": event.type,
        "timestamp": time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "tenantId": tenant_id,
        "data": event.data,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
