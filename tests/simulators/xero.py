"""Xero's accounting API on 127.0.0.1, faithful to the documented protocol:

- OAuth 2.0: `POST /connect/token` (HTTP Basic client auth, grant_type=refresh_token; refresh
  tokens rotate); every call needs `Authorization: Bearer <token>` (401 otherwise) and a
  `Xero-tenant-id` the token was granted for (403 otherwise).
- `GET /api.xro/2.0/{Contacts,Invoices,Payments}` with `If-Modified-Since` (only what changed
  since), `page` (1-based, 100 a page unless `pageSize`, at most 1000) and `order`; answers
  `{"Id", "Status": "OK", "DateTimeUTC", "<Collection>": [...], "pagination": {...}}` with
  .NET JSON dates (`/Date(1573755038314+0000)/`).
- `PUT` creates, `POST` creates or updates (by ContactID / InvoiceID); `Idempotency-Key` makes a
  write answer its first result again. Validation errors are 400 `ValidationException` bodies.
- A payment applies to an AUTHORISED invoice: AmountDue falls, AmountPaid rises, PAID at zero.
- Limits per organisation: `per_minute` calls a minute (60 published); over it a 429 with
  `Retry-After` (seconds) and `X-Rate-Limit-Problem: minute`; every answer carries
  `X-MinLimit-Remaining`, `X-DayLimit-Remaining` and `X-AppMinLimit-Remaining`.
- Webhooks: `x-xero-signature` = base64(HMAC-SHA256(webhook key, body)); "intent to receive"
  sends signed and wrongly signed empty event lists, wanting 200 and 401.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import re
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from tests.simulators.base import Reply
from tests.simulators.vendor import Reject, VendorSimulator, now

COLLECTIONS = {
    "contacts": ("Contacts", "ContactID"),
    "invoices": ("Invoices", "InvoiceID"),
    "payments": ("Payments", "PaymentID"),
}


def net_date(value: dt.datetime) -> str:
    return f"/Date({int(value.timestamp() * 1000)}+0000)/"


def parse_net_date(text: str) -> dt.datetime:
    millis = int(text[len("/Date(") :].split("+")[0].split(")")[0])
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def parse_since(text: str) -> dt.datetime:
    """If-Modified-Since: an HTTP date, or Xero's ISO form 2009-11-12T00:00:00 (UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = email.utils.parsedate_to_datetime(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def validation(message: str, element: dict[str, Any] | None = None) -> Reply:
    return Reply(
        400,
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [{**(element or {}), "ValidationErrors": [{"Message": message}]}],
        },
    )


def problem(status: int, title: str, detail: str) -> Reply:
    return Reply(
        status, {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": str(uuid.uuid4())}
    )


def amount(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


class XeroSimulator(VendorSimulator):
    token_path = "/connect/token"
    per_minute = 60
    per_day = 5000

    def __init__(self, tenant_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.access_ttl = 1800.0
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.objects: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in COLLECTIONS}
        self.next_invoice_number = 1
        self.currency = "USD"
        self.data_lock = threading.RLock()
        self.day_calls = 0

    def token_answer(self, access: str, refresh: str) -> dict[str, Any]:
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": 1800,
            "scope": "accounting.transactions accounting.contacts offline_access",
        }

    # --- the organisation's books, as a test sets them up or reads them ---

    def _touch(self, obj: dict[str, Any]) -> dict[str, Any]:
        # Each change at least a millisecond after the last, as Xero's own clock would show it.
        time.sleep(0.002)
        obj["UpdatedDateUTC"] = net_date(now())
        return obj

    def add_contact(self, name: str, email_address: str = "") -> dict[str, Any]:
        return self.write_contact({"Name": name, "EmailAddress": email_address}, create_only=True)

    def pay(self, invoice_id: str, value: str | Decimal, account_code: str = "090") -> dict[str, Any]:
        return self.write_payment(
            {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": account_code}, "Amount": str(value)}
        )

    def notification(self, *events: tuple[str, str, str], tenant_id: str | None = None) -> dict[str, Any]:
        """A webhook body: (category CONTACT|INVOICE, resource id, type CREATE|UPDATE) per event."""
        return {
            "events": [
                {
                    "resourceUrl": f"https://api.xero.com/api.xro/2.0/{category.title()}s/{rid}",
                    "resourceId": rid,
                    "eventDateUtc": now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
                    "eventType": kind,
                    "eventCategory": category,
                    "tenantId": tenant_id or self.tenant_id,
                    "tenantType": "ORGANISATION",
                }
                for category, rid, kind in events
            ],
            "firstEventSequence": 1,
            "lastEventSequence": len(events),
            "entropy": uuid.uuid4().hex.upper()[:20],
        }

    def intent_to_receive(self) -> dict[str, Any]:
        return {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": uuid.uuid4().hex.upper()[:20]}

    # --- writes ---

    def write_contact(self, fields: dict[str, Any], create_only: bool = False) -> dict[str, Any]:
        with self.data_lock:
            contact_id = fields.get("ContactID")
            current = self.objects["contacts"].get(contact_id) if contact_id else None
            if contact_id and current is None:
                raise Reject(problem(404, "Not Found", f"Contact {contact_id} not found"))
            name = str(fields.get("Name", current["Name"] if current else "")).strip()
            if not name:
                raise Reject(validation("The contact name must be specified.", fields))
            for other in self.objects["contacts"].values():
                if other["Name"] == name and other is not current:
                    raise Reject(
                        validation(
                            f"The contact name {name} is already assigned to another contact. "
                            "The contact name must be unique across all active contacts.",
                            fields,
                        )
                    )
            if current is None:
                current = {
                    "ContactID": str(uuid.uuid4()),
                    "ContactStatus": "ACTIVE",
                    "IsCustomer": True,
                    "Addresses": [],
                    "Phones": [],
                }
                self.objects["contacts"][current["ContactID"]] = current
            current.update({k: v for k, v in fields.items() if k != "ContactID"})
            current["Name"] = name
            return self._touch(current)

    def write_invoice(self, fields: dict[str, Any]) -> dict[str, Any]:
        with self.data_lock:
            invoice_id = fields.get("InvoiceID")
            if invoice_id:
                current = self.objects["invoices"].get(invoice_id)
                if current is None:
                    raise Reject(problem(404, "Not Found", f"Invoice {invoice_id} not found"))
                if "Status" in fields:
                    current["Status"] = fields["Status"]
                return self._touch(current)
            if fields.get("Type") not in ("ACCREC", "ACCPAY"):
                raise Reject(validation("Invoice Type must be ACCREC or ACCPAY", fields))
            contact = self.objects["contacts"].get((fields.get("Contact") or {}).get("ContactID", ""))
            if contact is None:
                raise Reject(validation("A Contact must be specified for this type of transaction", fields))
            lines = []
            for item in fields.get("LineItems") or []:
                quantity = Decimal(str(item.get("Quantity", 1)))
                unit = Decimal(str(item.get("UnitAmount", 0)))
                discount = Decimal(str(item.get("DiscountRate", 0)))
                line_amount = amount(quantity * unit * (1 - discount / 100))
                lines.append(
                    {
                        **item,
                        "LineItemID": str(uuid.uuid4()),
                        "LineAmount": float(line_amount),
                        "TaxAmount": float(amount(item.get("TaxAmount", 0))),
                    }
                )
            if not lines:
                raise Reject(validation("Invoices must have at least one line item", fields))
            subtotal = sum((amount(ln["LineAmount"]) for ln in lines), Decimal(0))
            tax = sum((amount(ln["TaxAmount"]) for ln in lines), Decimal(0))
            total = subtotal + tax
            number = fields.get("InvoiceNumber") or f"INV-{self.next_invoice_number:04d}"
            self.next_invoice_number += 1
            dates = {}
            for name in ("Date", "DueDate"):
                if fields.get(name):
                    day = dt.datetime.fromisoformat(str(fields[name])[:10]).replace(tzinfo=dt.UTC)
                    dates[name] = net_date(day)
                    dates[f"{name}String"] = day.strftime("%Y-%m-%dT00:00:00")
            invoice = {
                **fields,
                **dates,
                "InvoiceID": str(uuid.uuid4()),
                "InvoiceNumber": number,
                "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
                "LineItems": lines,
                "Status": fields.get("Status", "DRAFT"),
                "CurrencyCode": fields.get("CurrencyCode", self.currency),
                "SubTotal": float(subtotal),
                "TotalTax": float(tax),
                "Total": float(total),
                "AmountDue": float(total),
                "AmountPaid": 0.0,
                "Payments": [],
            }
            self.objects["invoices"][invoice["InvoiceID"]] = invoice
            return self._touch(invoice)

    def write_payment(self, fields: dict[str, Any]) -> dict[str, Any]:
        with self.data_lock:
            invoice = self.objects["invoices"].get((fields.get("Invoice") or {}).get("InvoiceID", ""))
            if invoice is None:
                raise Reject(validation("Invoice could not be found", fields))
            if invoice["Status"] != "AUTHORISED":
                raise Reject(validation("Payment can only be made against Authorised documents.", fields))
            paid = amount(fields.get("Amount", 0))
            if paid <= 0 or paid > amount(invoice["AmountDue"]):
                raise Reject(validation("Payment amount exceeds the amount outstanding on this document", fields))
            if not (fields.get("Account") or {}).get("Code") and not (fields.get("Account") or {}).get("AccountID"):
                raise Reject(validation("You must specify an Account for the payment", fields))
            payment = {
                "PaymentID": str(uuid.uuid4()),
                "Date": net_date(now()),
                "Amount": float(paid),
                "CurrencyRate": 1.0,
                "PaymentType": "ACCRECPAYMENT",
                "Status": "AUTHORISED",
                "Account": fields["Account"],
                "Invoice": {
                    "InvoiceID": invoice["InvoiceID"],
                    "InvoiceNumber": invoice["InvoiceNumber"],
                    "Type": invoice["Type"],
                    "CurrencyCode": invoice["CurrencyCode"],
                    "Contact": invoice["Contact"],
                },
            }
            due = amount(invoice["AmountDue"]) - paid
            invoice["AmountDue"] = float(due)
            invoice["AmountPaid"] = float(amount(invoice["AmountPaid"]) + paid)
            invoice["Payments"].append({"PaymentID": payment["PaymentID"], "Amount": float(paid)})
            if due == 0:
                invoice["Status"] = "PAID"
            self._touch(invoice)
            self.objects["payments"][payment["PaymentID"]] = payment
            return self._touch(payment)

    # --- the HTTP API ---

    def limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-MinLimit-Remaining": str(max(remaining, 0)),
            "X-DayLimit-Remaining": str(max(self.per_day - self.day_calls, 0)),
            "X-AppMinLimit-Remaining": "9999",
        }

    def api(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> Reply:
        if not path.startswith("/api.xro/2.0/"):
            return problem(404, "Not Found", "The resource you're looking for cannot be found")
        company = self.bearer_company(headers)
        if company is None:
            answer = problem(401, "Unauthorized", "TokenExpired: token expired or invalid")
            answer.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return answer
        if headers.get("xero-tenant-id") != company or company != self.tenant_id:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        if self.over_limit(company):
            headers = {"Retry-After": "1", "X-Rate-Limit-Problem": "minute", **self.limit_headers(0)}
            return Reply(429, headers=headers, raw=b"")
        with self.oauth_lock:
            self.day_calls += 1
            remaining = self.per_minute - len(self._windows[company])
        answer = self.route(method, path[len("/api.xro/2.0/") :], query, headers, body)
        answer.headers = {**self.limit_headers(remaining), **(answer.headers or {})}
        return answer

    def route(self, method: str, rest: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> Reply:
        parts = rest.strip("/").split("/")
        collection = parts[0].lower()
        if collection not in COLLECTIONS:
            return problem(404, "Not Found", "The resource you're looking for cannot be found")
        name, id_field = COLLECTIONS[collection]
        if method == "GET":
            with self.data_lock:
                if len(parts) > 1:
                    found = self.objects[collection].get(parts[1])
                    if found is None:
                        return problem(404, "Not Found", "The resource you're looking for cannot be found")
                    return self.envelope(name, [found])
                items = list(self.objects[collection].values())
            where = query.get("where", [""])[-1]
            if where:
                match = re.fullmatch(r'\s*(\w+)\s*==\s*"((?:[^"\\]|\\.)*)"\s*', where)
                if not match:
                    return validation(f"the where filter {where!r} is not supported")
                wanted = json.loads(f'"{match.group(2)}"')
                items = [o for o in items if str(o.get(match.group(1), "")) == wanted]
            since_text = headers.get("if-modified-since")
            if since_text:
                try:
                    since = parse_since(since_text)
                except (TypeError, ValueError):
                    return validation("If-Modified-Since is not a valid date")
                items = [o for o in items if parse_net_date(o["UpdatedDateUTC"]) > since]
            order = (query.get("order", [""])[-1] or ("Name" if collection == "contacts" else "UpdatedDateUTC")).split()
            field = order[0]
            items.sort(
                key=lambda o: (_order_key(o.get(field)), o[id_field]),
                reverse=len(order) > 1 and order[1].upper() == "DESC",
            )
            if "page" not in query:
                return self.envelope(name, items)
            try:
                page = int(query["page"][-1])
                size = int(query.get("pageSize", ["100"])[-1])
            except ValueError:
                return validation("page and pageSize must be numbers")
            if page < 1 or not 1 <= size <= 1000:
                return validation("page must be at least 1 and pageSize between 1 and 1000")
            chunk = items[(page - 1) * size : page * size]
            answer = self.envelope(name, chunk)
            answer.body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": math.ceil(len(items) / size),
                "itemCount": len(items),
            }
            return answer
        if method in ("PUT", "POST"):
            key = headers.get("idempotency-key", "")
            if key and key in self.idempotent:
                return self.idempotent[key]
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return validation("The request body is not valid JSON")
            records = payload.get(name, [payload]) if isinstance(payload, dict) else []
            writer = {"contacts": self.write_contact, "invoices": self.write_invoice, "payments": self.write_payment}[
                collection
            ]
            try:
                if method == "PUT" and any(r.get(id_field) for r in records):
                    raise Reject(validation(f"{id_field} cannot be given to PUT: PUT creates", records[0]))
                answer = self.envelope(name, [json.loads(json.dumps(writer(r))) for r in records])
            except Reject as exc:
                answer = exc.reply
            if key:
                self.idempotent[key] = answer
            return answer
        return problem(405, "Method Not Allowed", method)

    def envelope(self, name: str, items: list[dict[str, Any]]) -> Reply:
        return Reply(
            200,
            {
                "Id": str(uuid.uuid4()),
                "Status": "OK",
                "ProviderName": "crm-suite tests",
                "DateTimeUTC": net_date(now()),
                name: items,
            },
        )


def _order_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str) and value.startswith("/Date("):
        return (0, parse_net_date(value).timestamp())
    return (1, str(value))
