"""Contact events projected into marketing's audience read model."""

from __future__ import annotations

import datetime as dt

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm.events.v1.envelope_pb2 import Envelope
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from services.marketing import domain, store
from services.marketing.store import INBOX

CONSUMER = "marketing.contact-projection"
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
        ),
    )


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
