"""Contact events projected into marketing's audience read model."""

from __future__ import annotations

import datetime as dt

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import events_pb2 as integration_events
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.sales.v1 import events_pb2 as sales_events
from google.protobuf import json_format
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.ids import new_id
from services.marketing import domain, sequences, store, usecases
from services.marketing.domain import consent
from services.marketing.domain.segments import Engagement
from services.marketing.domain.sequences import CONVERTED
from services.marketing.store import INBOX

CONSUMER = "marketing.contact-projection"
ENGAGEMENT_CONSUMER = "marketing.engagement-log"
Stage = contacts_pb2.Contact.LifecycleStage


def on_contact_changed(
    session: Session, envelope: Envelope, event: events_pb2.ContactCreated | events_pb2.ContactUpdated
) -> None:
    _project(session, envelope.tenant, event.contact)


def on_contacts_imported(session: Session, envelope: Envelope, event: events_pb2.ContactsImported) -> None:
    """A batch of an import: each contact projected as if it came in its own ContactCreated or
    ContactUpdated (the inbox makes the whole batch idempotent, update times order each contact)."""
    for contact in event.contacts:
        _project(session, envelope.tenant, contact)


def _project(session: Session, tenant_id: str, contact: contacts_pb2.Contact) -> None:
    version = contact.update_time.ToDatetime(tzinfo=dt.UTC)
    current = store.get(session, tenant_id, contact.id, for_update=True)
    if not domain.supersedes(version, current):
        return
    store.put(
        session,
        domain.AudienceMember(
            tenant_id=tenant_id,
            contact_id=contact.id,
            email=contact.email,
            given_name=contact.given_name,
            family_name=contact.family_name,
            lifecycle_stage=Stage.Name(contact.lifecycle_stage) if contact.lifecycle_stage else "",
            tags=tuple(contact.tags),
            source_update_time=version,
            phone=contact.phone,
            custom_fields=json_format.MessageToDict(contact.custom_fields),
        ),
    )
    usecases.refresh_contact(session, tenant_id, contact.id, utcnow())


def on_contact_deleted(session: Session, envelope: Envelope, event: events_pb2.ContactDeleted) -> None:
    _tombstone(session, envelope, event.contact_id)


def on_contacts_merged(session: Session, envelope: Envelope, event: events_pb2.ContactsMerged) -> None:
    """The losers leave the audience (tombstones); the winner is projected as it is after the merge."""
    for loser_id in event.loser_ids:
        _tombstone(session, envelope, loser_id)
    on_contact_changed(session, envelope, event)  # type: ignore[arg-type]


def _tombstone(session: Session, envelope: Envelope, contact_id: str) -> None:
    deleted_at = envelope.time.ToDatetime(tzinfo=dt.UTC)
    current = store.get(session, envelope.tenant, contact_id, for_update=True)
    if not domain.supersedes(deleted_at, current):
        return
    # A tombstone without personal data: a late update must not resurrect the contact.
    store.put(session, domain.AudienceMember(envelope.tenant, contact_id, "", "", "", "", (), deleted_at, deleted=True))
    usecases.refresh_contact(session, envelope.tenant, contact_id, utcnow())


def contact_projection(database: Database) -> EventConsumer:
    return EventConsumer(
        CONSUMER,
        database,
        INBOX,
        [
            Handles(events_pb2.ContactCreated, on_contact_changed),  # type: ignore[arg-type]
            Handles(events_pb2.ContactUpdated, on_contact_changed),  # type: ignore[arg-type]
            Handles(events_pb2.ContactDeleted, on_contact_deleted),  # type: ignore[arg-type]
            Handles(events_pb2.ContactsImported, on_contacts_imported),  # type: ignore[arg-type]
            Handles(events_pb2.ContactsMerged, on_contacts_merged),  # type: ignore[arg-type]
        ],
    )


# --- marketing's own engagement events -> engagement log, consent, suppression, segments -------


def _log(session: Session, envelope: Envelope, engagement: marketing_events.Engagement, kind: str) -> None:
    if not engagement.contact_id:
        return
    occurred = (engagement.occur_time if engagement.HasField("occur_time") else envelope.time).ToDatetime(tzinfo=dt.UTC)
    store.log_engagement(
        session,
        new_id(),
        envelope.tenant,
        engagement.contact_id,
        engagement.message_id,
        Engagement(kind, engagement.campaign_id, occurred),
    )
    usecases.refresh_contact(session, envelope.tenant, engagement.contact_id, utcnow())


def _suppress(session: Session, envelope: Envelope, engagement: marketing_events.Engagement, reason: str) -> None:
    """The address the message went to is suppressed for the tenant, whatever contact holds it later."""
    address = engagement.email
    if not address and engagement.contact_id:
        member = store.get(session, envelope.tenant, engagement.contact_id)
        address = member.email if member else ""
    if address:
        entry = store.Suppressed(
            consent.normalise_email(address), reason, engagement.contact_id, envelope.time.ToDatetime(tzinfo=dt.UTC)
        )
        store.suppress(session, envelope.tenant, entry)


def on_sent(session: Session, envelope: Envelope, event: marketing_events.EmailSent) -> None:
    _log(session, envelope, event.engagement, "sent")


def on_opened(session: Session, envelope: Envelope, event: marketing_events.EmailOpened) -> None:
    _log(session, envelope, event.engagement, "opened")


def on_clicked(session: Session, envelope: Envelope, event: marketing_events.EmailClicked) -> None:
    _log(session, envelope, event.engagement, "clicked")


def on_bounced(session: Session, envelope: Envelope, event: marketing_events.EmailBounced) -> None:
    if event.hard:
        _suppress(session, envelope, event.engagement, consent.HARD_BOUNCE)
    if event.engagement.message_id:  # the campaign's analytics count it (docs/adr/0054)
        occurred = event.engagement.occur_time if event.engagement.HasField("occur_time") else envelope.time
        store.mark_bounced(session, envelope.tenant, event.engagement.message_id, occurred.ToDatetime(tzinfo=dt.UTC))
    _log(session, envelope, event.engagement, "bounced")


def on_complained(session: Session, envelope: Envelope, event: marketing_events.EmailComplained) -> None:
    _suppress(session, envelope, event.engagement, consent.COMPLAINT)
    _log(session, envelope, event.engagement, "complained")


def on_unsubscribed(session: Session, envelope: Envelope, event: marketing_events.Unsubscribed) -> None:
    channel = event.channel or "email"
    if event.engagement.contact_id and channel in consent.CHANNELS:
        usecases.record_unsubscribe(
            session, envelope.tenant, event.engagement.contact_id, channel, envelope.time.ToDatetime(tzinfo=dt.UTC)
        )
    _log(session, envelope, event.engagement, "unsubscribed")


def on_form_submitted(session: Session, envelope: Envelope, event: marketing_events.FormSubmitted) -> None:
    _log(session, envelope, event.engagement, "formSubmitted")


def engagement_log(database: Database) -> EventConsumer:
    return EventConsumer(
        ENGAGEMENT_CONSUMER,
        database,
        INBOX,
        [
            Handles(marketing_events.EmailSent, on_sent),  # type: ignore[arg-type]
            Handles(marketing_events.EmailOpened, on_opened),  # type: ignore[arg-type]
            Handles(marketing_events.EmailClicked, on_clicked),  # type: ignore[arg-type]
            Handles(marketing_events.EmailBounced, on_bounced),  # type: ignore[arg-type]
            Handles(marketing_events.EmailComplained, on_complained),  # type: ignore[arg-type]
            Handles(marketing_events.Unsubscribed, on_unsubscribed),  # type: ignore[arg-type]
            Handles(marketing_events.FormSubmitted, on_form_submitted),  # type: ignore[arg-type]
        ],
    )


# --- replies and conversions -> sequence exits ---------------------------------------------------

SEQUENCE_EXITS_CONSUMER = "marketing.sequence-exits"


def on_inbound_email(session: Session, envelope: Envelope, event: integration_events.InboundEmailReceived) -> None:
    referenced = [event.in_reply_to, *event.references] if event.in_reply_to else list(event.references)
    sequences.exit_on_reply(session, envelope.tenant, referenced, event.from_address, utcnow())


def on_lead_converted(session: Session, envelope: Envelope, event: sales_events.LeadConverted) -> None:
    if event.contact_id:
        detail = f"lead {event.lead.id} converted"
        sequences.exit_contacts(session, envelope.tenant, [event.contact_id], CONVERTED, detail, utcnow())


def on_opportunity_won(session: Session, envelope: Envelope, event: sales_events.OpportunityWon) -> None:
    if event.opportunity.contact_id:
        detail = f"deal {event.opportunity.id} won"
        sequences.exit_contacts(session, envelope.tenant, [event.opportunity.contact_id], CONVERTED, detail, utcnow())


def sequence_exits(database: Database) -> EventConsumer:
    return EventConsumer(
        SEQUENCE_EXITS_CONSUMER,
        database,
        INBOX,
        [
            Handles(integration_events.InboundEmailReceived, on_inbound_email),  # type: ignore[arg-type]
            Handles(sales_events.LeadConverted, on_lead_converted),  # type: ignore[arg-type]
            Handles(sales_events.OpportunityWon, on_opportunity_won),  # type: ignore[arg-type]
        ],
    )
