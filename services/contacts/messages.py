"""Contact protobuf <-> domain, shared by the gRPC servicer and the events it publishes."""

from __future__ import annotations

from crm.contacts.v1 import contacts_pb2
from google.protobuf import json_format, struct_pb2

from crmkit.errors import FieldViolation, InvalidArgument
from services.contacts.domain import Association, Contact, ContactFields

Stage = contacts_pb2.Contact.LifecycleStage


def fields_from_proto(message: contacts_pb2.Contact) -> ContactFields:
    stage = Stage.Name(message.lifecycle_stage) if message.lifecycle_stage else ""
    associations = tuple(Association(a.account_id, a.label, a.primary) for a in message.account_associations)
    if associations and message.account_ids and list(message.account_ids) != [a.account_id for a in associations]:
        raise InvalidArgument.of(
            [FieldViolation("account_ids", "mirrors accountAssociations: send one of them, or both with the same ids")]
        )
    return ContactFields(
        given_name=message.given_name,
        family_name=message.family_name,
        email=message.email,
        phone=message.phone,
        title=message.title,
        account_ids=tuple(message.account_ids),
        owner_id=message.owner_id,
        lifecycle_stage=stage,
        tags=tuple(message.tags),
        custom_fields=json_format.MessageToDict(message.custom_fields),
        account_associations=associations,
        external_id=message.external_id,
        additional_emails=tuple(message.additional_emails),
        additional_phones=tuple(message.additional_phones),
    )


def contact_to_proto(contact: Contact) -> contacts_pb2.Contact:
    data = contact.data
    message = contacts_pb2.Contact(
        id=contact.id,
        given_name=data.given_name,
        family_name=data.family_name,
        email=data.email,
        phone=data.phone,
        title=data.title,
        account_ids=data.account_ids,
        owner_id=data.owner_id,
        lifecycle_stage=Stage.Value(data.lifecycle_stage) if data.lifecycle_stage else 0,
        tags=data.tags,
        etag=contact.etag,
        account_associations=[
            contacts_pb2.AccountAssociation(account_id=a.account_id, label=a.label, primary=a.primary)
            for a in data.account_associations
        ],
        external_id=data.external_id,
        additional_emails=data.additional_emails,
        additional_phones=data.additional_phones,
    )
    custom = struct_pb2.Struct()
    custom.update(dict(data.custom_fields))
    message.custom_fields.CopyFrom(custom)
    message.create_time.FromDatetime(contact.create_time)
    message.update_time.FromDatetime(contact.update_time)
    return message
