"""Contacts merged in the contacts service: tickets of a loser now belong to the winner."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from crm.contacts.v1 import events_pb2
from crm.events.v1.envelope_pb2 import Envelope
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from services.support import store
from services.support.domain import tickets as rules
from services.support.store import INBOX
from services.support.usecases import TicketChanges

CONSUMER = "support.contact-merges"
ACTOR = "contacts"


def repoint_requesters(outbox: Outbox, session: Session, envelope: Envelope, event: events_pb2.ContactsMerged) -> int:
    """Re-point every ticket a loser requested, closed ones too (a reference, not a change of the
    case); each with a history entry and a TicketUpdated event. The number of tickets moved."""
    now = envelope.time.ToDatetime(tzinfo=dt.UTC)
    changes = TicketChanges(session, outbox)
    moved = 0
    for loser_id in event.loser_ids:
        after: str | None = None
        while page := store.ticket_page(session, envelope.tenant, {"requester_id": loser_id}, after, 200):
            for found in page:
                before = store.get_ticket(session, envelope.tenant, found.id, for_update=True)
                if before is None or before.data.requester_id != loser_id:
                    continue
                ticket = rules.touch(replace(before, data=replace(before.data, requester_id=event.winner_id)), now)
                changes.saved(before, ticket, ["requester_id"], ACTOR)
                changes.note(ticket, "requester", ACTOR, f"requester {loser_id} merged into {event.winner_id}", now)
                moved += 1
            after = page[-1].id
    return moved


def contact_merges(database: Database, outbox: Outbox) -> EventConsumer:
    def handle(session: Session, envelope: Envelope, event: events_pb2.ContactsMerged) -> None:
        repoint_requesters(outbox, session, envelope, event)

    return EventConsumer(CONSUMER, database, INBOX, [Handles(events_pb2.ContactsMerged, handle)])  # type: ignore[arg-type]
