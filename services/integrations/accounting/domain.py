"""Accounting rules, pure Python: invoices from sales events, exact money, webhook signatures.

One invoice per opportunity and connection: whichever of the won deal and the accepted quote
arrives first creates it (an accepted quote normally comes first, with its lines); a quote not tied
to an opportunity is invoiced on its own. Amounts are Decimals on the currency's minor-unit grid
(Babel/CLDR precision), never floats; a vendor's JSON numbers are read through `decimal_of`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision

NANOS = Decimal(1_000_000_000)
# Days from issue to due date when nothing else says (net 30, the common default of both vendors).
PAYMENT_TERMS_DAYS = 30
MAX_DESCRIPTION = 4000


def decimal_of(value: Any) -> Decimal:
    """A vendor's JSON number (float, int or text) as the exact decimal it was written as."""
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def money_decimal(units: int, nanos: int) -> Decimal:
    return Decimal(units) + Decimal(nanos) / NANOS


def units_nanos(amount: Decimal) -> tuple[int, int]:
    units = int(amount)  # toward zero, with nanos of the same sign (google.type.Money)
    return units, int((amount - units) * NANOS)


def on_grid(amount: Decimal, currency: str) -> Decimal:
    places = int(get_currency_precision(currency)) if currency else 2
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    # The price of one after the discount (what the vendor multiplies by the quantity).
    unit_price: Decimal
    discount_percent: Decimal
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class InvoiceDraft:
    """What the CRM asks the accounting system to invoice."""

    source_key: str
    opportunity_id: str
    quote_id: str
    contact_id: str
    account_id: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    # The quote number or the deal's name: the invoice's reference in the accounting system.
    reference: str
    issue_date: dt.date
    due_date: dt.date

    @property
    def net_total(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.net_total + self.tax_total


def source_key(opportunity_id: str, quote_id: str) -> str:
    """The one key an invoice is made under: its opportunity's, else its quote's."""
    return f"opportunity:{opportunity_id}" if opportunity_id else f"quote:{quote_id}"


def _dates(when: dt.datetime) -> tuple[dt.date, dt.date]:
    issue = when.astimezone(dt.UTC).date()
    return issue, issue + dt.timedelta(days=PAYMENT_TERMS_DAYS)


def draft_for_won_deal(
    opportunity_id: str,
    name: str,
    contact_id: str,
    account_id: str,
    currency: str,
    amount: Decimal,
    when: dt.datetime,
) -> InvoiceDraft | None:
    """One line, the deal's amount; None when there is nothing to invoice (no amount, no customer)."""
    if not currency or amount <= 0 or not (contact_id or account_id):
        return None
    amount = on_grid(amount, currency)
    line = InvoiceLine(name[:MAX_DESCRIPTION] or "Deal", Decimal(1), amount, Decimal(0), amount, Decimal(0))
    issue, due = _dates(when)
    return InvoiceDraft(
        source_key(opportunity_id, ""), opportunity_id, "", contact_id, account_id, currency, (line,), name, issue, due
    )


@dataclass(frozen=True)
class QuoteLine:
    name: str
    sku: str
    quantity: str
    discount_percent: str
    net: Decimal
    tax: Decimal


def draft_for_accepted_quote(
    quote_id: str,
    quote_number: str,
    opportunity_id: str,
    contact_id: str,
    account_id: str,
    currency: str,
    lines: list[QuoteLine],
    when: dt.datetime,
) -> InvoiceDraft | None:
    """The quote's lines at their net amounts (discounts applied) with their tax."""
    if not currency or not lines or not (contact_id or account_id):
        return None
    drafted = []
    for line in lines:
        quantity = decimal_of(line.quantity) or Decimal(1)
        net = on_grid(line.net, currency)
        description = f"{line.name} ({line.sku})" if line.sku else line.name
        drafted.append(
            InvoiceLine(
                description[:MAX_DESCRIPTION] or "Item",
                quantity,
                (net / quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
                decimal_of(line.discount_percent),
                net,
                on_grid(line.tax, currency),
            )
        )
    issue, due = _dates(when)
    return InvoiceDraft(
        source_key(opportunity_id, quote_id),
        opportunity_id,
        quote_id,
        contact_id,
        account_id,
        currency,
        tuple(drafted),
        quote_number,
        issue,
        due,
    )


# --- webhook signatures ---


def signature_of(key: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key, body)): QuickBooks' intuit-signature and Xero's x-xero-signature."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(key: str, body: bytes, given: str | None) -> bool:
    """Whether `given` is the body's signature under `key` (constant time; no key never matches)."""
    if not key or not given:
        return False
    return hmac.compare_digest(signature_of(key, body).encode(), given.strip().encode())


# --- what the vendors' books hold, vendor-neutral ---


@dataclass(frozen=True)
class CustomerDetails:
    """A CRM account (or a contact without one) as an accounting customer."""

    display_name: str
    company: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Customer:
    external_id: str
    details: CustomerDetails


@dataclass(frozen=True)
class Invoice:
    external_id: str
    number: str
    customer_external_id: str
    currency: str
    total: Decimal
    balance: Decimal
    issue_date: dt.date | None
    due_date: dt.date | None


@dataclass(frozen=True)
class Payment:
    """A payment applied to one invoice (a payment split over invoices is one record per invoice)."""

    external_id: str
    invoice_external_id: str
    customer_external_id: str
    currency: str
    amount: Decimal
    paid_time: dt.datetime


Record = Customer | Invoice | Payment


@dataclass(frozen=True)
class Page:
    """Records read from one stream, and the stream's cursor once they are stored."""

    records: tuple[Record, ...]
    cursor: dict[str, Any]


# The streams, in the order a sync reads them: payments refer to invoices, invoices to customers.
STREAMS = ("customers", "invoices", "payments")


def parse_date(text: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None
