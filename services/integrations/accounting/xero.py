"""Xero's accounting API (api.xro/2.0) as the accounting connector needs it.

- Every call: the connection's OAuth 2.0 bearer token (refreshed by the shared client) and its
  organisation in `Xero-tenant-id`; JSON with .NET dates (`/Date(1573755038314+0000)/`).
  Errors are 400 `ValidationException` bodies (`Elements[].ValidationErrors[].Message`), read into
  `XeroError`; 429s carry `Retry-After` (honoured by the shared client) and `X-Rate-Limit-Problem`.
- Reads: `GET /<Collection>?page=n&pageSize=m&order=UpdatedDateUTC ASC` with `If-Modified-Since`
  = the stream's cursor (the newest UpdatedDateUTC stored, to the second: Xero compares whole
  seconds, so the boundary second is read again — harmless, the external-id map dedupes). Each
  page moves the cursor with its data.
- Writes: contacts by Name (unique among active contacts: the validation error adopts the existing
  one), updated by ContactID; invoices AUTHORISED (payments apply only to those) with an
  `Idempotency-Key`, so a retried create answers the first invoice instead of making a second.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

from services.integrations.accounting import domain
from services.integrations.accounting.domain import (
    Customer,
    CustomerDetails,
    Invoice,
    InvoiceDraft,
    Page,
    Payment,
    decimal_of,
)
from services.integrations.connections import Credentials
from services.integrations.connectors.http import ApiError, HttpApi

PAGE_SIZE = 100
COLLECTION = {"customers": "Contacts", "invoices": "Invoices", "payments": "Payments"}
NET_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
# The sales account invoices are coded to when the connection does not say (Xero's default chart).
SALES_ACCOUNT = "200"


class XeroError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Xero {status}: {message}")
        self.status = status
        self.message = message


def _error(exc: ApiError) -> Exception:
    body = exc.body if isinstance(exc.body, dict) else {}
    messages = [
        str(v.get("Message", ""))
        for element in body.get("Elements") or []
        for v in element.get("ValidationErrors") or []
    ]
    text = "; ".join(m for m in messages if m) or str(body.get("Detail") or body.get("Message") or exc.message)
    return XeroError(exc.status, text[:500])


def parse_net_date(value: Any) -> dt.datetime | None:
    """`/Date(1573755038314+0000)/` (UTC milliseconds) or an ISO date/time."""
    if not value:
        return None
    match = NET_DATE.match(str(value))
    if match:
        return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date(value: Any) -> dt.date | None:
    parsed = parse_net_date(value)
    return parsed.date() if parsed else None


def customer_of(obj: dict[str, Any]) -> Customer:
    details = CustomerDetails(
        display_name=str(obj.get("Name", "")),
        company=str(obj.get("Name", "")),
        given_name=str(obj.get("FirstName", "")),
        family_name=str(obj.get("LastName", "")),
        email=str(obj.get("EmailAddress", "")),
    )
    return Customer(str(obj["ContactID"]), details)


def invoice_of(obj: dict[str, Any]) -> Invoice:
    return Invoice(
        external_id=str(obj["InvoiceID"]),
        number=str(obj.get("InvoiceNumber", "")),
        customer_external_id=str((obj.get("Contact") or {}).get("ContactID", "")),
        currency=str(obj.get("CurrencyCode", "")),
        total=decimal_of(obj.get("Total")),
        balance=decimal_of(obj.get("AmountDue")),
        issue_date=_date(obj.get("Date")),
        due_date=_date(obj.get("DueDate")),
    )


def payment_of(obj: dict[str, Any]) -> Payment:
    invoice = obj.get("Invoice") or {}
    return Payment(
        external_id=str(obj["PaymentID"]),
        invoice_external_id=str(invoice.get("InvoiceID", "")),
        customer_external_id=str((invoice.get("Contact") or {}).get("ContactID", "")),
        currency=str(invoice.get("CurrencyCode", "")),
        amount=decimal_of(obj.get("Amount")),
        paid_time=parse_net_date(obj.get("Date")) or dt.datetime.now(dt.UTC),
    )


def records_of(stream: str, objects: list[dict[str, Any]]) -> tuple[domain.Record, ...]:
    if stream == "customers":
        return tuple(customer_of(o) for o in objects if o.get("ContactStatus", "ACTIVE") == "ACTIVE")
    if stream == "invoices":
        return tuple(invoice_of(o) for o in objects if o.get("Type", "ACCREC") == "ACCREC")
    return tuple(payment_of(o) for o in objects if o.get("Status", "AUTHORISED") == "AUTHORISED")


def contact_body(details: CustomerDetails) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": details.display_name[:255]}
    if details.email:
        body["EmailAddress"] = details.email
    if details.given_name:
        body["FirstName"] = details.given_name[:255]
    if details.family_name:
        body["LastName"] = details.family_name[:255]
    return body


def invoice_body(draft: InvoiceDraft, contact_id: str, account_code: str = SALES_ACCOUNT) -> dict[str, Any]:
    return {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "LineItems": [
            {
                "Description": line.description,
                "Quantity": str(line.quantity),
                "UnitAmount": str(line.unit_price),
                "TaxAmount": str(line.tax),
                "AccountCode": account_code,
            }
            for line in draft.lines
        ],
        "LineAmountTypes": "Exclusive",
        "Date": draft.issue_date.isoformat(),
        "DueDate": draft.due_date.isoformat(),
        "CurrencyCode": draft.currency,
        "Reference": (draft.reference or draft.source_key)[:255],
        # Payments apply only to authorised invoices; a draft would wait for someone to approve it.
        "Status": "AUTHORISED",
    }


def _if_modified_since(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat()


class Xero:
    system = "xero"
    type = "XERO"

    def __init__(self, api: HttpApi, page_size: int = PAGE_SIZE) -> None:
        self.api = api
        self.page_size = page_size

    def call(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        data = credentials.connection.data
        url = f"{data.base_url}/api.xro/2.0/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        sent = {"Xero-tenant-id": data.xero_tenant_id, **(headers or {})}
        try:
            response = self.api.request(credentials, method, url, json_body=body, headers=sent, oauth2=True)
        except ApiError as exc:
            raise _error(exc) from None
        return response.body if isinstance(response.body, dict) else {}

    # --- check ---

    def check_read(self, credentials: Credentials) -> str:
        found = self.call(credentials, "GET", "Contacts", {"page": "1", "pageSize": "1"})
        count = len(found.get("Contacts", []))
        return f"organisation {credentials.connection.data.xero_tenant_id}: {count} contact(s) read"

    # --- customers ---

    def find_customer(self, credentials: Credentials, name: str) -> dict[str, Any] | None:
        found = self.call(credentials, "GET", "Contacts", {"where": f"Name=={json.dumps(name)}"})
        contacts = found.get("Contacts") or []
        return contacts[0] if contacts else None

    def create_customer(self, credentials: Credentials, details: CustomerDetails) -> str:
        try:
            created = self.call(credentials, "PUT", "Contacts", body={"Contacts": [contact_body(details)]})
        except XeroError as error:
            if error.status != 400 or "already assigned" not in error.message:
                raise
            existing = self.find_customer(credentials, details.display_name)
            if existing is None:
                raise
            return str(existing["ContactID"])
        return str(created["Contacts"][0]["ContactID"])

    def update_customer(self, credentials: Credentials, external_id: str, details: CustomerDetails) -> None:
        body = {"Contacts": [{**contact_body(details), "ContactID": external_id}]}
        self.call(credentials, "POST", "Contacts", body=body)

    # --- invoices ---

    def create_invoice(
        self, credentials: Credentials, draft: InvoiceDraft, customer_id: str, request_id: str
    ) -> Invoice:
        created = self.call(
            credentials,
            "PUT",
            "Invoices",
            body={"Invoices": [invoice_body(draft, customer_id)]},
            headers={"Idempotency-Key": request_id},
        )
        return invoice_of(created["Invoices"][0])

    # --- reads ---

    def read(self, credentials: Credentials, stream: str, cursor: dict[str, Any], full: bool) -> Iterator[Page]:
        collection = COLLECTION[stream]
        since_text = "" if full else str(cursor.get("modified_since", ""))
        since = parse_net_date(since_text) if since_text else None
        newest = since
        page = 1
        while True:
            headers = {"If-Modified-Since": _if_modified_since(since)} if since else {}
            query = {"page": str(page), "pageSize": str(self.page_size), "order": "UpdatedDateUTC ASC"}
            answer = self.call(credentials, "GET", collection, query, headers=headers)
            objects = list(answer.get(collection) or [])
            for obj in objects:
                updated = parse_net_date(obj.get("UpdatedDateUTC"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
            cursor_now = {"modified_since": newest.isoformat()} if newest else {}
            yield Page(records_of(stream, objects), cursor_now)
            if len(objects) < self.page_size:
                return
            page += 1
