"""Email to support's addresses becomes tickets (issue #5 point 4; docs/adr/0047).

Integrations captures mailboxes and publishes InboundEmailReceived; support takes the ones
captured by a connection whose purpose is "support" and addressed (To or Cc) to one of that
connection's support addresses (any recipient when it lists none). Support keeps no copy of the
contacts directory: an email ticket's requester is its sender's address, kept on the ticket's
email thread, and requester_id stays empty until an agent links a contact.
"""

from __future__ import annotations

from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import events_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from services.support.store import INBOX
from services.support.usecases import InboundEmail, Tickets


def support_address_of(event: events_pb2.InboundEmailReceived) -> str | None:
    """The support address the mail was sent to, or None when it is not support's mail."""
    if event.mailbox_purpose != "support":
        return None
    recipients = [a.lower() for a in (*event.to_addresses, *event.cc_addresses)]
    wanted = {a.lower() for a in event.support_addresses}
    if not wanted:
        return recipients[0] if recipients else ""
    return next((a for a in recipients if a in wanted), None)


def email_intake(database: Database, tickets: Tickets) -> EventConsumer:
    def on_email(session: Session, envelope: Envelope, event: events_pb2.InboundEmailReceived) -> None:
        address = support_address_of(event)
        if address is None or not event.message_id:
            return
        mail = InboundEmail(
            message_id=event.message_id,
            in_reply_to=event.in_reply_to,
            references=tuple(event.references),
            from_address=event.from_address,
            support_address=address,
            subject=event.subject,
            text_body=event.text_body,
        )
        tickets.receive_email(session, envelope.tenant, mail)

    return EventConsumer(
        "support.email-intake",
        database,
        INBOX,
        [Handles(events_pb2.InboundEmailReceived, on_email)],  # type: ignore[arg-type]
    )
