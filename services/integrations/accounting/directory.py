"""The CRM's accounts and contacts as the accounting connectors need them, over the shared
`CrmDirectory` (contacts' gRPC, acting for the tenant as the integrations service).

ContactsService has no idempotency key: an account made from an accounting customer carries the
external id `<system>:<connection>:<customer id>` (unique per tenant in contacts), so a retried sync
finds it instead of making a second.
"""

from __future__ import annotations

from crm.contacts.v1 import accounts_pb2

from services.integrations.accounting.domain import CustomerDetails
from services.integrations.connectors.crm import CrmDirectory, RecordRefused


class AccountingCustomers:
    def __init__(self, crm: CrmDirectory) -> None:
        self.crm = crm

    def details(self, tenant_id: str, account_id: str, contact_id: str) -> CustomerDetails:
        """The account's name as the customer (with the contact's name and email when given), or
        the contact alone when the deal has no account."""
        with self.crm.acting_for(tenant_id):
            account = self.crm.account(account_id) if account_id else None
            contact = self.crm.contact(contact_id) if contact_id else None
        person = " ".join(p for p in (contact.given_name, contact.family_name) if p) if contact else ""
        email = contact.email if contact else ""
        return CustomerDetails(
            display_name=account.name if account else (person or email),
            company=account.name if account else "",
            given_name=contact.given_name if contact else "",
            family_name=contact.family_name if contact else "",
            email=email,
        )

    def account_for(self, tenant_id: str, details: CustomerDetails, external_id: str) -> str:
        """The CRM account made for an accounting customer: found by its external id, else created."""
        name = (details.company or details.display_name or details.email)[:200]
        with self.crm.acting_for(tenant_id):
            found = self.crm.find_account(external_id)
            if found:
                return found
            try:
                return str(self.crm.create_account(accounts_pb2.Account(name=name, external_id=external_id)).id)
            except RecordRefused:
                again = self.crm.find_account(external_id)  # made a moment ago by another run
                if not again:
                    raise
                return again
