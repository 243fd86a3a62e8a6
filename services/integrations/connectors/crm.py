"""The CRM's contacts and accounts as connectors need them: read, find by external id or email,
create and update, over the contacts service's gRPC API, acting for the connection's tenant as the
integrations service (`tokens.acting_as`), never as whoever triggered the sync.

A refusal about the record itself (invalid, duplicate, gone) is a `RecordRefused`: the connector
dead-letters that record and goes on. The contacts service being away is `Unavailable`: the run or
the event fails as a whole and is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import grpc
from crm.contacts.v1 import accounts_pb2, accounts_pb2_grpc, contacts_pb2, contacts_pb2_grpc
from google.protobuf import field_mask_pb2

from crmkit.errors import Unavailable
from crmkit.grpcclient import service_channel
from crmkit.module import ServiceModule
from crmkit.tokens import Principal, acting_as

T = TypeVar("T")
SUBJECT = "service:integrations"
SCOPES = frozenset({"contacts:read", "contacts:write"})
RECORD_CODES = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
)


class RecordRefused(Exception):
    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(f"{code.name}: {detail}")
        self.code = code


def _call(what: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except grpc.RpcError as exc:
        code, detail = exc.code(), exc.details() or ""  # type: ignore[attr-defined]
        if code in RECORD_CODES:
            raise RecordRefused(code, f"the contacts service refused to {what}: {detail}") from None
        raise Unavailable(f"the contacts service did not {what}: {code.name}") from None


class CrmDirectory:
    def __init__(self, module: ServiceModule, address: str, deadline_seconds: float) -> None:
        self.module = module
        self.address = address
        self.deadline = deadline_seconds
        self._channel: grpc.Channel | None = None

    @contextmanager
    def acting_for(self, tenant_id: str) -> Iterator[None]:
        if self.module.tokens is None:
            raise Unavailable("the integrations service has no internal tokens yet")
        with acting_as(self.module.tokens, Principal(tenant_id, SUBJECT, SCOPES)):
            yield

    def _stubs(self) -> tuple[contacts_pb2_grpc.ContactsServiceStub, accounts_pb2_grpc.AccountsServiceStub]:
        if self._channel is None:
            self._channel = service_channel(self.address, self.deadline)
        return (
            contacts_pb2_grpc.ContactsServiceStub(self._channel),
            accounts_pb2_grpc.AccountsServiceStub(self._channel),
        )

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    # --- contacts ---

    def contact(self, contact_id: str) -> contacts_pb2.Contact:
        stub = self._stubs()[0]
        return _call("read the contact", lambda: stub.GetContact(contacts_pb2.GetContactRequest(id=contact_id)))

    def find_contact(self, external_id: str = "", email: str = "") -> str:
        """The contact with this external id, else the oldest with this email (any case); "" if none."""
        stub = self._stubs()[0]
        for wanted, value in (("externalId =", external_id), ("email :", email)):
            if not value:
                continue
            found = _call(
                "find the contact",
                lambda w=wanted, v=value: stub.ListContacts(  # type: ignore[misc]
                    contacts_pb2.ListContactsRequest(filter=f"{w} {json.dumps(v)}", page_size=50, order_by="createTime")
                ),
            )
            for contact in found.contacts:
                if wanted.startswith("externalId") or contact.email.lower() == value.lower():
                    return str(contact.id)
        return ""

    def create_contact(self, contact: contacts_pb2.Contact) -> contacts_pb2.Contact:
        stub = self._stubs()[0]
        return _call(
            "create the contact", lambda: stub.CreateContact(contacts_pb2.CreateContactRequest(contact=contact))
        )

    def update_contact(self, contact_id: str, contact: contacts_pb2.Contact, paths: list[str]) -> contacts_pb2.Contact:
        stub = self._stubs()[0]
        request = contacts_pb2.UpdateContactRequest(
            id=contact_id, contact=contact, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        return _call("update the contact", lambda: stub.UpdateContact(request))

    # --- accounts ---

    def account(self, account_id: str) -> accounts_pb2.Account:
        stub = self._stubs()[1]
        return _call("read the account", lambda: stub.GetAccount(accounts_pb2.GetAccountRequest(id=account_id)))

    def find_account(self, external_id: str) -> str:
        stub = self._stubs()[1]
        found = _call(
            "find the account",
            lambda: stub.ListAccounts(
                accounts_pb2.ListAccountsRequest(filter=f"externalId = {json.dumps(external_id)}", page_size=1)
            ),
        )
        return str(found.accounts[0].id) if found.accounts else ""

    def create_account(self, account: accounts_pb2.Account) -> accounts_pb2.Account:
        stub = self._stubs()[1]
        return _call(
            "create the account", lambda: stub.CreateAccount(accounts_pb2.CreateAccountRequest(account=account))
        )

    def update_account(self, account_id: str, account: accounts_pb2.Account, paths: list[str]) -> accounts_pb2.Account:
        stub = self._stubs()[1]
        request = accounts_pb2.UpdateAccountRequest(
            id=account_id, account=account, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        return _call("update the account", lambda: stub.UpdateAccount(request))
