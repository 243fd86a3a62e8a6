"""The accounting part of a data-subject request (docs/adr/0048, 0059), for integrations' privacy
participant to call: `export` and `erase` have crmkit.privacy's Exporter and Eraser signatures.

Invoices and payments are records kept for law (tax and commercial retention): an erasure keeps
them — amounts, numbers, dates, vendor ids — and replaces the person's contact id by a pseudonym
(the same for all of that person's records, so an auditor can still group them, and no longer the
person's id). The customer mapping made for the contact becomes a tombstone, so the vendor's
record is never imported again (the vendor keeps its own record: the tenant is its controller
there; docs/adr/0083). Dead letters naming the person are scrubbed by
integrations' privacy module, with every other dead letter.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.privacy import Identifiers, row_dict
from services.integrations.accounting.usecases import CUSTOMER
from services.integrations.connections import erase_mappings
from services.integrations.store import AccountingInvoiceRow, AccountingPaymentRow

INVOICE_COLUMNS: tuple[str, ...] = (
    "id",
    "external_system",
    "external_id",
    "invoice_number",
    "opportunity_id",
    "quote_id",
)
INVOICE_COLUMNS += ("account_id", "currency_code", "total_minor", "balance_minor", "issue_date", "due_date")
PAYMENT_COLUMNS = ("id", "external_id", "invoice_id", "currency_code", "amount_minor", "paid_time")


def pseudonym(tenant_id: str, contact_id: str) -> str:
    return "erased:" + hashlib.sha256(f"{tenant_id}/{contact_id}".encode()).hexdigest()[:20]


def export(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, Any]:
    invoices = session.scalars(
        sa.select(AccountingInvoiceRow)
        .where(AccountingInvoiceRow.tenant_id == tenant_id, AccountingInvoiceRow.contact_id == contact_id)
        .order_by(AccountingInvoiceRow.id)
    )
    payments = session.scalars(
        sa.select(AccountingPaymentRow)
        .where(AccountingPaymentRow.tenant_id == tenant_id, AccountingPaymentRow.contact_id == contact_id)
        .order_by(AccountingPaymentRow.id)
    )
    return {
        "invoices": [row_dict(r, INVOICE_COLUMNS) for r in invoices],
        "payments": [row_dict(r, PAYMENT_COLUMNS) for r in payments],
    }


def erase(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, int]:
    alias = pseudonym(tenant_id, contact_id)
    counts = {}
    for name, table in (("invoices", AccountingInvoiceRow), ("payments", AccountingPaymentRow)):
        counts[f"{name}Pseudonymised"] = session.execute(
            sa.update(table)
            .where(table.tenant_id == tenant_id, table.contact_id == contact_id)
            .values(contact_id=alias)
        ).rowcount  # type: ignore[attr-defined]
    counts["customerMappings"] = erase_mappings(session, tenant_id, CUSTOMER, f"contact:{contact_id}")
    return counts
