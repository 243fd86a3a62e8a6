"""QuickBooks Online's accounting API (v3) as the accounting connector needs it.

- Every call: `<base_url>/v3/company/<realmId>/...` with the connection's OAuth 2.0 bearer token
  (refreshed by the shared client), `minorversion`, JSON; errors are `Fault` bodies
  (`{"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}}`), read into `QuickBooksFault`.
- Reads: a full read pages `select * from <Entity> STARTPOSITION n MAXRESULTS m`; an incremental
  one asks CDC (`/cdc?entities=<Entity>&changedSince=<cursor>`), whose look-back is 30 days at
  most and whose answer holds 1000 objects at most (then the cursor is the newest object read, and
  the stream is read again). The cursor is QuickBooks' own clock (the answer's `time`), less a
  second of overlap (its times have whole seconds); re-reads are harmless (external-id map).
- Writes: customers by DisplayName (unique in QuickBooks: "Duplicate Name Exists" 6240 adopts the
  existing one), updated sparsely under their `SyncToken` (a stale one, Fault 5010, is read again
  and retried once); invoices with `requestid` (QuickBooks answers a repeated request id with the
  first result, so a retried create never makes a second invoice).
"""

from __future__ import annotations

import datetime as dt
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
    parse_date,
)
from services.integrations.connections import Credentials
from services.integrations.connectors.http import ApiError, HttpApi

MINOR_VERSION = "75"
PAGE_SIZE = 100
CDC_LIMIT = 1000
# CDC looks back 30 days at most; an older cursor means a full read.
CDC_LOOKBACK = dt.timedelta(days=29)
OVERLAP = dt.timedelta(seconds=1)
ENTITY = {"customers": "Customer", "invoices": "Invoice", "payments": "Payment"}
STALE_OBJECT = "5010"
DUPLICATE_NAME = "6240"


class QuickBooksFault(Exception):
    def __init__(self, status: int, code: str, message: str, detail: str) -> None:
        super().__init__(f"QuickBooks {status} fault {code}: {message}" + (f" ({detail})" if detail else ""))
        self.status = status
        self.code = code


def _fault(exc: ApiError) -> Exception:
    body = exc.body if isinstance(exc.body, dict) else {}
    fault = body.get("Fault") or body.get("fault") or {}
    errors = fault.get("Error") or fault.get("error") or []
    if not errors:
        return exc
    first = errors[0]
    return QuickBooksFault(
        exc.status,
        str(first.get("code", "")),
        str(first.get("Message") or first.get("message") or ""),
        str(first.get("Detail") or first.get("detail") or "")[:300],
    )


def quoted(text: str) -> str:
    """A string literal of QuickBooks' query language (a quote is escaped with a backslash)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def customer_of(obj: dict[str, Any]) -> Customer:
    email = _money(obj.get("PrimaryEmailAddr")).get("Address", "")
    details = CustomerDetails(
        display_name=str(obj.get("DisplayName", "")),
        company=str(obj.get("CompanyName", "")),
        given_name=str(obj.get("GivenName", "")),
        family_name=str(obj.get("FamilyName", "")),
        email=str(email),
    )
    return Customer(str(obj["Id"]), details)


def invoice_of(obj: dict[str, Any], home_currency: str = "") -> Invoice:
    return Invoice(
        external_id=str(obj["Id"]),
        number=str(obj.get("DocNumber", "")),
        customer_external_id=str(_money(obj.get("CustomerRef")).get("value", "")),
        currency=str(_money(obj.get("CurrencyRef")).get("value", "")) or home_currency,
        total=decimal_of(obj.get("TotalAmt")),
        balance=decimal_of(obj.get("Balance")),
        issue_date=parse_date(obj.get("TxnDate")),
        due_date=parse_date(obj.get("DueDate")),
    )


def payments_of(obj: dict[str, Any]) -> list[Payment]:
    """One record per invoice the payment is applied to (a payment's lines link the invoices)."""
    meta = obj.get("MetaData") or {}
    when = parse_date(obj.get("TxnDate"))
    created = meta.get("CreateTime")
    paid = parse_time(created) if created else dt.datetime.now(dt.UTC)
    if when is not None and paid.date() != when:
        paid = dt.datetime.combine(when, dt.time(12), dt.UTC)
    found = []
    for line in obj.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            if linked.get("TxnType") == "Invoice":
                found.append(
                    Payment(
                        external_id=f"{obj['Id']}:{linked['TxnId']}",
                        invoice_external_id=str(linked["TxnId"]),
                        customer_external_id=str(_money(obj.get("CustomerRef")).get("value", "")),
                        currency=str(_money(obj.get("CurrencyRef")).get("value", "")),
                        amount=decimal_of(line.get("Amount")),
                        paid_time=paid,
                    )
                )
    return found


def records_of(stream: str, objects: list[dict[str, Any]]) -> tuple[domain.Record, ...]:
    if stream == "customers":
        return tuple(customer_of(o) for o in objects if o.get("status") != "Deleted")
    if stream == "invoices":
        return tuple(invoice_of(o) for o in objects if o.get("status") != "Deleted")
    return tuple(p for o in objects if o.get("status") != "Deleted" for p in payments_of(o))


def customer_body(details: CustomerDetails) -> dict[str, Any]:
    body: dict[str, Any] = {"DisplayName": details.display_name[:500]}
    if details.company:
        body["CompanyName"] = details.company[:100]
    if details.given_name:
        body["GivenName"] = details.given_name[:100]
    if details.family_name:
        body["FamilyName"] = details.family_name[:100]
    if details.email:
        body["PrimaryEmailAddr"] = {"Address": details.email}
    return body


def invoice_body(draft: InvoiceDraft, customer_id: str, item_id: str) -> dict[str, Any]:
    """Net lines (QuickBooks applies the company's own sales-tax setup), the deal's currency."""
    lines = [
        {
            "Amount": float(line.net),
            "DetailType": "SalesItemLineDetail",
            "Description": line.description,
            "SalesItemLineDetail": {
                "ItemRef": {"value": item_id},
                "Qty": float(line.quantity),
                "UnitPrice": float(line.unit_price),
            },
        }
        for line in draft.lines
    ]
    return {
        "CustomerRef": {"value": customer_id},
        "Line": lines,
        "TxnDate": draft.issue_date.isoformat(),
        "DueDate": draft.due_date.isoformat(),
        "CurrencyRef": {"value": draft.currency},
        "PrivateNote": f"CRM {draft.source_key}" + (f" · {draft.reference}" if draft.reference else ""),
    }


class QuickBooks:
    system = "quickbooks"
    type = "QUICKBOOKS"

    def __init__(self, api: HttpApi, page_size: int = PAGE_SIZE) -> None:
        self.api = api
        self.page_size = page_size

    def _url(self, credentials: Credentials, path: str, query: dict[str, str] | None = None) -> str:
        data = credentials.connection.data
        params = {**(query or {}), "minorversion": MINOR_VERSION}
        realm = urllib.parse.quote(data.realm_id, safe="")
        return f"{data.base_url}/v3/company/{realm}/{path}?{urllib.parse.urlencode(params)}"

    def call(
        self, credentials: Credentials, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        try:
            response = self.api.request(
                credentials, method, self._url(credentials, path, query), json_body=body, oauth2=True
            )
        except ApiError as exc:
            raise _fault(exc) from None
        return response.body if isinstance(response.body, dict) else {}

    def query(self, credentials: Credentials, text: str) -> dict[str, Any]:
        return dict(self.call(credentials, "GET", "query", {"query": text}).get("QueryResponse") or {})

    # --- check ---

    def check_read(self, credentials: Credentials) -> str:
        found = self.query(credentials, "select * from Customer STARTPOSITION 1 MAXRESULTS 1")
        return f"realm {credentials.connection.data.realm_id}: {len(found.get('Customer', []))} customer(s) read"

    # --- customers ---

    def find_customer(self, credentials: Credentials, display_name: str) -> dict[str, Any] | None:
        found = self.query(credentials, f"select * from Customer where DisplayName = {quoted(display_name)}")
        customers = found.get("Customer") or []
        return customers[0] if customers else None

    def create_customer(self, credentials: Credentials, details: CustomerDetails) -> str:
        """The customer's id: created, or the existing one of that DisplayName (adopted)."""
        try:
            created = self.call(credentials, "POST", "customer", body=customer_body(details))
        except QuickBooksFault as fault:
            if fault.code != DUPLICATE_NAME:
                raise
            existing = self.find_customer(credentials, details.display_name)
            if existing is None:
                raise
            return str(existing["Id"])
        return str(created["Customer"]["Id"])

    def update_customer(self, credentials: Credentials, external_id: str, details: CustomerDetails) -> None:
        """A sparse update under the customer's SyncToken; a stale token is read again, once."""
        for attempt in range(2):
            current = self.call(credentials, "GET", f"customer/{urllib.parse.quote(external_id, safe='')}")
            token = str(current["Customer"]["SyncToken"])
            body = {**customer_body(details), "Id": external_id, "SyncToken": token, "sparse": True}
            try:
                self.call(credentials, "POST", "customer", body=body)
                return
            except QuickBooksFault as fault:
                if fault.code != STALE_OBJECT or attempt:
                    raise

    # --- invoices ---

    def service_item(self, credentials: Credentials) -> str:
        found = self.query(credentials, "select * from Item where Type = 'Service' STARTPOSITION 1 MAXRESULTS 1")
        items = found.get("Item") or []
        if not items:
            raise QuickBooksFault(400, "item", "no Service item", "add a Service item to QuickBooks to invoice from")
        return str(items[0]["Id"])

    def create_invoice(
        self, credentials: Credentials, draft: InvoiceDraft, customer_id: str, request_id: str
    ) -> Invoice:
        body = invoice_body(draft, customer_id, self.service_item(credentials))
        created = self.call(credentials, "POST", "invoice", {"requestid": request_id}, body)
        return invoice_of(created["Invoice"], draft.currency)

    # --- reads ---

    def read(self, credentials: Credentials, stream: str, cursor: dict[str, Any], full: bool) -> Iterator[Page]:
        since = cursor.get("changed_since")
        if not full and since and parse_time(since) > dt.datetime.now(dt.UTC) - CDC_LOOKBACK:
            yield from self._changes(credentials, stream, parse_time(since))
        else:
            yield from self._everything(credentials, stream)

    def _everything(self, credentials: Credentials, stream: str) -> Iterator[Page]:
        entity = ENTITY[stream]
        start = 1
        began: dt.datetime | None = None
        while True:
            answer = self.call(
                credentials,
                "GET",
                "query",
                {"query": f"select * from {entity} STARTPOSITION {start} MAXRESULTS {self.page_size}"},
            )
            if began is None:  # the company's clock when the read began: changes after it are CDC's
                began = parse_time(answer["time"]) - OVERLAP if answer.get("time") else dt.datetime.now(dt.UTC)
            objects = list((answer.get("QueryResponse") or {}).get(entity) or [])
            last = len(objects) < self.page_size
            # The cursor moves only with the last page: a read cut short starts over (idempotently).
            yield Page(records_of(stream, objects), {"changed_since": stamp(began)} if last else {})
            if last:
                return
            start += len(objects)

    def _changes(self, credentials: Credentials, stream: str, since: dt.datetime) -> Iterator[Page]:
        entity = ENTITY[stream]
        while True:
            answer = self.call(credentials, "GET", "cdc", {"entities": entity, "changedSince": stamp(since)})
            groups = [g for r in answer.get("CDCResponse") or [] for g in r.get("QueryResponse") or []]
            objects = [o for g in groups for o in g.get(entity) or []]
            if len(objects) < CDC_LIMIT:
                clock = parse_time(answer["time"]) if answer.get("time") else dt.datetime.now(dt.UTC)
                yield Page(records_of(stream, objects), {"changed_since": stamp(max(since, clock - OVERLAP))})
                return
            # A full answer may have left some out: go on from the newest change read.
            newest = max(parse_time(o["MetaData"]["LastUpdatedTime"]) for o in objects)
            if newest <= since:
                raise QuickBooksFault(200, "cdc", "more than 1000 changes in one second", "read in full instead")
            yield Page(records_of(stream, objects), {"changed_since": stamp(newest)})
            since = newest
