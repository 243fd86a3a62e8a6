"""Checks an opportunity's contact against the contacts service, as the caller (ADR 0044)."""

from __future__ import annotations

import threading

import grpc
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc

from crmkit.errors import FieldViolation, InvalidArgument, Unavailable
from crmkit.grpcclient import service_channel


class ContactDirectory:
    """GetContact over gRPC with the caller's own identity (grpcclient forwards its token), so a
    contact the caller may not see (another tenant's, another owner's for a sales rep) is refused
    exactly like a missing one."""

    def __init__(self, address: str, deadline_seconds: float) -> None:
        self.address = address
        self.deadline = deadline_seconds
        self._stub: contacts_pb2_grpc.ContactsServiceStub | None = None
        self._lock = threading.Lock()

    def stub(self) -> contacts_pb2_grpc.ContactsServiceStub:
        with self._lock:
            if self._stub is None:
                self._stub = contacts_pb2_grpc.ContactsServiceStub(service_channel(self.address, self.deadline))
            return self._stub

    def check(self, contact_id: str, field: str = "contactId") -> None:
        try:
            self.stub().GetContact(contacts_pb2.GetContactRequest(id=contact_id))
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument.of([FieldViolation(field, f"no contact {contact_id}")]) from None
            if code == grpc.StatusCode.PERMISSION_DENIED:
                raise InvalidArgument.of(
                    [FieldViolation(field, "linking a contact needs the contacts:read scope")]
                ) from None
            raise Unavailable(f"the contacts service could not check contact {contact_id}: {code.name}") from None
