"""ContactsService over gRPC: proto <-> domain, nothing else."""

from __future__ import annotations

import grpc
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from google.protobuf import empty_pb2

from crmkit.tokens import current_principal
from services.contacts.messages import contact_to_proto, fields_from_proto
from services.contacts.usecases import Contacts


class ContactsServicer(contacts_pb2_grpc.ContactsServiceServicer):
    def __init__(self, contacts: Contacts) -> None:
        self.contacts = contacts

    def CreateContact(
        self, request: contacts_pb2.CreateContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.Contact:
        contact = self.contacts.create(
            current_principal(), fields_from_proto(request.contact), request.allow_duplicate_email
        )
        return contact_to_proto(contact)

    def GetContact(
        self, request: contacts_pb2.GetContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.Contact:
        return contact_to_proto(self.contacts.get(current_principal(), request.id))

    def ListContacts(
        self, request: contacts_pb2.ListContactsRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.ListContactsResponse:
        found, token = self.contacts.list(
            current_principal(), request.page_size, request.page_token, request.filter, request.order_by, request.q
        )
        return contacts_pb2.ListContactsResponse(contacts=[contact_to_proto(c) for c in found], next_page_token=token)

    def UpdateContact(
        self, request: contacts_pb2.UpdateContactRequest, context: grpc.ServicerContext
    ) -> contacts_pb2.Contact:
        contact = self.contacts.update(
            current_principal(),
            request.id,
            fields_from_proto(request.contact),
            list(request.update_mask.paths),
            request.contact.etag,
            request.allow_duplicate_email,
        )
        return contact_to_proto(contact)

    def DeleteContact(
        self, request: contacts_pb2.DeleteContactRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.contacts.delete(current_principal(), request.id, request.etag)
        return empty_pb2.Empty()
