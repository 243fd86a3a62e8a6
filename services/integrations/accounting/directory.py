"""The CRM's accounts and contacts as the accounting connectors need them, over contacts' gRPC.

Calls run in the background (a consumer, the sync worker), so they act for the tenant with an
internal token minted for the integrations service itself (`tokens.acting_as`), scopes
contacts:read and contacts:write only. ContactsService has no idempotency key: an account made
from an accounting customer carries the external id `<system>:<connection>:<customer id>`
(unique per tenant in contacts), so a retried sync finds it instead of making a second.
"""

from __future__ import annotations

import json

import grpc
from crm.contacts.v1 import accounts_pb2, accounts_pb2_grpc, contacts_pb2, contacts_pb2_grpc

from crmkit.errors import Unavailable
from crmkit.grpcclient import service_channel
from crmkit.tokens import InternalTokens, Principal, acting_as
from services.integrations.accounting.domain import CustomerDetails

SCOPES = frozenset({"contacts:read", "contacts:write"})
SUBJECT = "service:integrations"


class ContactsDirectory:
    def __init__(self, address: str, deadline_seconds: float) -> None:
        self.address = address
        self.deadline = deadline_seconds
        self.tokens: InternalTokens | None = None  # given when the target starts (ServiceModule.on_tokens)
        self._channel: grpc.Channel | None = None

    def use_tokens(self, tokens: InternalTokens) -> None:
        self.tokens = tokens

    def _stubs(self) -> tuple[contacts_pb2_grpc.ContactsServiceStub, accounts_pb2_grpc.AccountsServiceStub]:
        if self._channel is None:
            self._channel = service_channel(self.address, self.deadline)
        return contacts_pb2_grpc.ContactsServiceStub(self._channel), accounts_pb2_grpc.AccountsServiceStub(
            self._channel
        )

    def _acting(self, tenant_id: str):  # type: ignore[no-untyped-def]
        if self.tokens is None:
            raise Unavailable("the contacts directory has no token minter yet (the target has not started)")
        return acting_as(self.tokens, Principal(tenant_id, SUBJECT, SCOPES))

    def details(self, tenant_id: str, account_id: str, contact_id: str) -> CustomerDetails:
        """The account's name as the customer (with the contact's name and email when given), or
        the contact alone when the deal has no account."""
        contacts, accounts = self._stubs()
        with self._acting(tenant_id):
            account = accounts.GetAccount(accounts_pb2.GetAccountRequest(id=account_id)) if account_id else None
            contact = contacts.GetContact(contacts_pb2.GetContactRequest(id=contact_id)) if contact_id else None
        person = " ".join(p for p in (contact.given_name, contact.family_name) if p) if contact else ""
        email = contact.email if contact else ""
        name = account.name if account else (person or email)
        return CustomerDetails(
            display_name=name,
            company=account.name if account else "",
            given_name=contact.given_name if contact else "",
            family_name=contact.family_name if contact else "",
            email=email,
        )

    def account_for(self, tenant_id: str, details: CustomerDetails, external_id: str) -> str:
        """The CRM account made for an accounting customer: found by its external id, else created."""
        _, accounts = self._stubs()
        wanted = accounts_pb2.ListAccountsRequest(filter=f"externalId = {json.dumps(external_id)}", page_size=1)
        with self._acting(tenant_id):
            found = accounts.ListAccounts(wanted)
            if found.accounts:
                return str(found.accounts[0].id)
            account = accounts_pb2.Account(
                name=(details.company or details.display_name or details.email)[:200], external_id=external_id
            )
            try:
                return str(accounts.CreateAccount(accounts_pb2.CreateAccountRequest(account=account)).id)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                return str(accounts.ListAccounts(wanted).accounts[0].id)  # made a moment ago by another run
