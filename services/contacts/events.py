"""Events the contacts service publishes about contacts (activity events: activities.py; what it
consumes: timeline.py, the contacts.timeline projection, and privacy.py, the answers to privacy
requests)."""

from __future__ import annotations

from collections.abc import Sequence

from crm.contacts.v1 import events_pb2
from google.protobuf import field_mask_pb2

from services.contacts.domain import Contact
from services.contacts.messages import contact_to_proto


def contact_created(contact: Contact) -> events_pb2.ContactCreated:
    return events_pb2.ContactCreated(contact=contact_to_proto(contact))


def contact_updated(contact: Contact, changed: Sequence[str]) -> events_pb2.ContactUpdated:
    return events_pb2.ContactUpdated(
        contact=contact_to_proto(contact), changed_fields=field_mask_pb2.FieldMask(paths=list(changed))
    )


def contacts_imported(job_id: str, contacts: Sequence[Contact]) -> events_pb2.ContactsImported:
    return events_pb2.ContactsImported(import_job_id=job_id, contacts=[contact_to_proto(c) for c in contacts])


def contact_deleted(contact_id: str) -> events_pb2.ContactDeleted:
    return events_pb2.ContactDeleted(contact_id=contact_id)
