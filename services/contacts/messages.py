"""Contact protobuf <-> domain, shared by the gRPC servicer and the events it publishes."""

from __future__ import annotations

from crm.contacts.v1 import contacts_pb2
from google.protobuf import json_format, struct_pb2

from services.contacts.domain import Contact, ContactFields

Stage = contacts_pb2.Contact.LifecycleStage


def fields_from_proto(message: contacts_pb2.Contact) -> ContactFields:
    stage = Stage.Name(message.lifecycle_stage) if message.lifecycle_stage else ""
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
        external_id=message.external_id,
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
        external_id=data.external_id,
    )
    custom = struct_pb2.Struct()
    custom.update(dict(data.custom_fields))
    message.custom_fields.CopyFrom(custom)
    message.create_time.FromDatetime(contact.create_time)
    message.update_time.FromDatetime(contact.update_time)
    return message
