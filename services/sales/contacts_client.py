"""The contacts service as sales needs it: check an opportunity's contact, and for the lead
conversion find or create a contact and an account, and link them. Every call runs on behalf of
the caller being served (its internal token is forwarded, so a rep limited to its own records stays
limited, and a contact the caller may not see is refused exactly like a missing one), with a
deadline (ADR 0043, 0044).

ContactsService has no idempotency key, so each step is made repeatable by looking first: a
contact by the lead's email (or, for a lead without one, by the external id `lead:<lead id>` that
the conversion gives the contacts it creates), an account by the email's domain. The conversion record stores what
each step produced, so a retry never looks twice for what it already has (docs/adr/0043).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from crm.contacts.v1 import accounts_pb2, accounts_pb2_grpc, contacts_pb2, contacts_pb2_grpc
from google.protobuf import field_mask_pb2

from crmkit.errors import FailedPrecondition, FieldViolation, InvalidArgument, ServiceError, Unavailable
from crmkit.grpcclient import service_channel
from services.sales.domain.leads import Lead

T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    id: str
    reused: bool


class ContactsDirectory:
    def __init__(self, address: str, deadline_seconds: float) -> None:
        self.address = address
        self.deadline = deadline_seconds
        self._channel: grpc.Channel | None = None
        self._lock = threading.Lock()

    def _stubs(self) -> tuple[contacts_pb2_grpc.ContactsServiceStub, accounts_pb2_grpc.AccountsServiceStub]:
        with self._lock:
            if self._channel is None:
                self._channel = service_channel(self.address, self.deadline)
            channel = self._channel
        return contacts_pb2_grpc.ContactsServiceStub(channel), accounts_pb2_grpc.AccountsServiceStub(channel)

    def check(self, contact_id: str, field: str = "contactId") -> None:
        """The contact exists and the caller may see it; else a 400 naming the field."""
        contacts, _ = self._stubs()
        try:
            contacts.GetContact(contacts_pb2.GetContactRequest(id=contact_id))
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument.of([FieldViolation(field, f"no contact {contact_id}")]) from None
            if code == grpc.StatusCode.PERMISSION_DENIED:
                raise InvalidArgument.of(
                    [FieldViolation(field, "linking a contact needs the contacts:read scope")]
                ) from None
            raise Unavailable(f"the contacts service could not check contact {contact_id}: {code.name}") from None

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def find_or_create_contact(self, lead: Lead) -> Found:
        contacts, _ = self._stubs()
        data = lead.data
        existing = self._find_contact(lead)
        if existing:
            return Found(existing, True)
        contact = contacts_pb2.Contact(
            given_name=data.given_name,
            family_name=data.family_name,
            email=data.email,
            phone=data.phone,
            title=data.title,
            owner_id=data.owner_id,
            lifecycle_stage=contacts_pb2.Contact.SALES_QUALIFIED_LEAD,
            external_id=_external_id(lead),
        )
        try:
            created = contacts.CreateContact(contacts_pb2.CreateContactRequest(contact=contact))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                again = self._find_contact(lead)
                if again:  # a concurrent conversion created it a moment ago
                    return Found(again, True)
                # The email is taken by a contact this caller may not see (another rep's).
                raise FailedPrecondition(
                    f"a contact with {data.email} exists that you cannot see; ask its owner or a manager "
                    "to convert this lead",
                ) from None
            raise _service_error("create the contact", exc) from None
        return Found(created.id, False)

    def _find_contact(self, lead: Lead) -> str:
        """The oldest visible contact with the lead's email as its primary or a further address,
        ignoring case as contacts' duplicate check does (its `=` filter compares exactly, so `:`
        narrows and the match is made here); for a lead without an email, the contact an earlier
        attempt made for this lead."""
        contacts, _ = self._stubs()
        email = lead.data.email
        quoted = json.dumps(email)
        wanted = (
            f"email : {quoted} OR additionalEmails : {quoted}"
            if email
            else f"externalId = {json.dumps(_external_id(lead))}"
        )
        found = _call(
            "find the contact",
            lambda: contacts.ListContacts(
                contacts_pb2.ListContactsRequest(filter=wanted, page_size=100, order_by="createTime")
            ),
        )
        for contact in found.contacts:
            if not email or email.lower() in {e.lower() for e in (contact.email, *contact.additional_emails)}:
                return str(contact.id)
        return ""

    def find_or_create_account(self, name: str, domain: str, owner_id: str) -> Found:
        _, accounts = self._stubs()
        found = _call(
            "find the account",
            lambda: accounts.ListAccounts(
                accounts_pb2.ListAccountsRequest(filter=f"domain = {json.dumps(domain)}", page_size=1)
            ),
        )
        if found.accounts:
            return Found(found.accounts[0].id, True)
        account = accounts_pb2.Account(name=name or domain, domain=domain, owner_id=owner_id)
        created = _call(
            "create the account", lambda: accounts.CreateAccount(accounts_pb2.CreateAccountRequest(account=account))
        )
        return Found(created.id, False)

    def link(self, contact_id: str, account_id: str) -> None:
        """Adds the account to the contact's accounts (nothing when it is there already)."""
        contacts, _ = self._stubs()
        contact = _call("read the contact", lambda: contacts.GetContact(contacts_pb2.GetContactRequest(id=contact_id)))
        if account_id in contact.account_ids:
            return
        patch = contacts_pb2.Contact(account_ids=[*contact.account_ids, account_id], etag=contact.etag)
        _call(
            "link the contact to the account",
            lambda: contacts.UpdateContact(
                contacts_pb2.UpdateContactRequest(
                    id=contact_id, contact=patch, update_mask=field_mask_pb2.FieldMask(paths=["account_ids"])
                )
            ),
        )


def _external_id(lead: Lead) -> str:
    """Unique per tenant in contacts, so two concurrent conversions cannot both create the contact."""
    return f"lead:{lead.id}"


def _call(what: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except grpc.RpcError as exc:
        raise _service_error(what, exc) from None


def _service_error(what: str, exc: Any) -> ServiceError:
    code = exc.code()
    detail = exc.details() or code.name
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"the contacts service did not answer ({what}); retry the conversion")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return FailedPrecondition(f"the contacts service cannot {what} yet: {detail}")
    return FailedPrecondition(f"the contacts service refused to {what}: {detail}")
