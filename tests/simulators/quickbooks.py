"""A QuickBooks Online accounting API on 127.0.0.1, faithful to the documented protocol:

- OAuth 2.0: `POST /oauth2/v1/tokens/bearer` (HTTP Basic client auth, grant_type=refresh_token;
  the refresh token rotates); every API call needs `Authorization: Bearer <access token>`, else
  401 with an AUTHENTICATION fault (code 3200).
- `GET /v3/company/<realmId>/query?query=select * from Customer [where ...] STARTPOSITION n
  MAXRESULTS m` (1-based positions, at most 1000 results) answering `{"QueryResponse": {...}}`.
- `GET /v3/company/<realmId>/cdc?entities=Customer,Invoice,Payment&changedSince=<time>` answering
  `{"CDCResponse": [{"QueryResponse": [{"Customer": [...]}, ...]}]}` (look-back at most 30 days,
  at most 1000 objects).
- `POST /v3/company/<realmId>/<entity>` creates, or with `Id` + `SyncToken` updates (`sparse`);
  a stale SyncToken is a 400 ValidationFault "Stale Object Error" code 5010; a customer's
  DisplayName is unique (6240 "Duplicate Name Exists Error"). `?requestid=` makes a create
  idempotent: the same id answers the first result.
- Creating a Payment whose line links an Invoice lowers the invoice's Balance (a new SyncToken).
- Throttling: over `per_minute` calls a minute for one realm (500 by the published limit) is a
  429 with a ThrottleExceeded fault (code 3001); QuickBooks sends no Retry-After.
- Webhooks: `intuit-signature` = base64(HMAC-SHA256(verifier token, body)).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from decimal import Decimal
from typing import Any

from tests.simulators.base import Reply
from tests.simulators.vendor import Reject, VendorSimulator, now

ENTITIES = ("Customer", "Invoice", "Payment", "Item")
QUERY = re.compile(
    r"^\s*select\s+\*\s+from\s+(?P<entity>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+orderby\s+(?P<order>[\w.]+(?:\s+(?:asc|desc))?))?"
    r"(?:\s+startposition\s+(?P<start>\d+))?"
    r"(?:\s+maxresults\s+(?P<max>\d+))?\s*$",
    re.IGNORECASE,
)
CONDITION = re.compile(r"^\s*([\w.]+)\s*(=|>=|<=|>|<)\s*'([^']*)'\s*$")


def stamp(value: dt.datetime) -> str:
    """QuickBooks writes times with the company's offset and no fraction: 2015-07-24T10:33:39-07:00."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def fault(status: int, code: str, message: str, detail: str, kind: str = "ValidationFault") -> Reply:
    error = {"Message": message, "Detail": detail, "code": code, "element": ""}
    return Reply(status, {"Fault": {"Error": [error], "type": kind}, "time": stamp(now())})


def money(value: Any) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


class QuickBooksSimulator(VendorSimulator):
    token_path = "/oauth2/v1/tokens/bearer"
    per_minute = 500

    def __init__(self, realm_id: str = "9130355000000001", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.realm_id = realm_id
        self.objects: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.next_id = 1
        self.next_doc_number = 1001
        self.home_currency = "USD"
        # Saves by another QuickBooks user that land just before our next updates (stale SyncTokens).
        self.concurrent_edits = 0
        self.stale_faults = 0
        self.data_lock = threading.RLock()
        self.objects["Item"]["1"] = self._stamped({"Id": "1", "Name": "Services", "Type": "Service"}, now())

    # --- the company's books, as a test sets them up or reads them ---

    def _stamped(self, obj: dict[str, Any], when: dt.datetime) -> dict[str, Any]:
        created = obj.get("MetaData", {}).get("CreateTime", stamp(when))
        obj["MetaData"] = {"CreateTime": created, "LastUpdatedTime": stamp(when)}
        obj.setdefault("SyncToken", "0")
        obj["domain"] = "QBO"
        obj["sparse"] = False
        return obj

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def add(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create an object as a user of QuickBooks would (no API call, no throttling)."""
        return self.create(entity, json.loads(json.dumps(fields)))

    def update(self, entity: str, obj_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self.data_lock:
            obj = self.objects[entity][obj_id]
            obj.update(changes)
            obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
            return self._stamped(obj, now())

    def find(self, entity: str, **where: Any) -> list[dict[str, Any]]:
        with self.data_lock:
            return [o for o in self.objects[entity].values() if all(o.get(k) == v for k, v in where.items())]

    def pay(self, invoice_id: str, amount: str | Decimal) -> dict[str, Any]:
        """Receive a payment against an invoice, as the company's bookkeeper would."""
        invoice = self.objects["Invoice"][invoice_id]
        return self.add(
            "Payment",
            {
                "CustomerRef": invoice["CustomerRef"],
                "TotalAmt": money(amount),
                "CurrencyRef": invoice["CurrencyRef"],
                "Line": [{"Amount": money(amount), "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
            },
        )

    def notification(self, *changes: tuple[str, str, str]) -> dict[str, Any]:
        """The body of a webhook: (entity name, id, operation) for each change."""
        return {
            "eventNotifications": [
                {
                    "realmId": self.realm_id,
                    "dataChangeEvent": {
                        "entities": [
                            {"name": name, "id": obj_id, "operation": op, "lastUpdated": stamp(now())}
                            for name, obj_id, op in changes
                        ]
                    },
                }
            ]
        }

    # --- writes ---

    def create(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.data_lock:
            when = now()
            if entity == "Customer":
                name = str(fields.get("DisplayName") or "").strip()
                if not name:
                    raise Reject(
                        fault(400, "6000", "A business validation error has occurred", "DisplayName is required")
                    )
                if self.find("Customer", DisplayName=name):
                    raise Reject(
                        fault(
                            400,
                            "6240",
                            "Duplicate Name Exists Error",
                            f"The name supplied already exists. : Another customer is already using this name: {name}",
                        )
                    )
                obj = {**fields, "DisplayName": name, "Active": True, "Balance": 0.0}
            elif entity == "Invoice":
                customer = self._ref("Customer", fields.get("CustomerRef"), "CustomerRef")
                lines = [ln for ln in fields.get("Line") or [] if ln.get("DetailType") == "SalesItemLineDetail"]
                if not lines:
                    raise Reject(fault(400, "6000", "A business validation error has occurred", "Line is required"))
                numbered = []
                for i, line in enumerate(lines, start=1):
                    detail = line.get("SalesItemLineDetail") or {}
                    self._ref("Item", detail.get("ItemRef"), "Line.SalesItemLineDetail.ItemRef")
                    numbered.append({**line, "Id": str(i), "LineNum": i, "Amount": money(line.get("Amount", 0))})
                total = sum((Decimal(str(ln["Amount"])) for ln in numbered), Decimal(0))
                subtotal = {"Amount": money(total), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
                doc = fields.get("DocNumber") or str(self.next_doc_number)
                self.next_doc_number += 1
                obj = {
                    **fields,
                    "DocNumber": doc,
                    "TxnDate": fields.get("TxnDate") or when.date().isoformat(),
                    "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
                    "CurrencyRef": fields.get("CurrencyRef") or {"value": self.home_currency},
                    "Line": [*numbered, subtotal],
                    "TotalAmt": money(total),
                    "Balance": money(total),
                }
            elif entity == "Payment":
                customer = self._ref("Customer", fields.get("CustomerRef"), "CustomerRef")
                total = Decimal(str(fields.get("TotalAmt", 0)))
                if total <= 0:
                    raise Reject(fault(400, "6000", "A business validation error has occurred", "TotalAmt is required"))
                for line in fields.get("Line") or []:
                    for linked in line.get("LinkedTxn") or []:
                        if linked.get("TxnType") == "Invoice":
                            invoice = self._ref("Invoice", {"value": linked.get("TxnId")}, "LinkedTxn.TxnId")
                            balance = Decimal(str(invoice["Balance"])) - Decimal(str(line.get("Amount", 0)))
                            self.update("Invoice", invoice["Id"], {"Balance": money(max(balance, Decimal(0)))})
                obj = {
                    **fields,
                    "TotalAmt": money(total),
                    "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
                    "TxnDate": fields.get("TxnDate") or when.date().isoformat(),
                    "CurrencyRef": fields.get("CurrencyRef") or {"value": self.home_currency},
                }
            else:
                obj = dict(fields)
            obj["Id"] = self._new_id()
            obj["SyncToken"] = "0"
            self.objects[entity][obj["Id"]] = self._stamped(obj, when)
            return obj

    def _ref(self, entity: str, ref: Any, field: str) -> dict[str, Any]:
        value = ref.get("value") if isinstance(ref, dict) else None
        found = self.objects[entity].get(str(value)) if value else None
        if found is None:
            raise Reject(
                fault(
                    400,
                    "2500",
                    "Invalid Reference Id",
                    f"Invalid Reference Id : {entity} assigned is not valid ({field})",
                )
            )
        return found

    def write(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        if "Id" not in fields:
            return self.create(entity, fields)
        with self.data_lock:
            current = self.objects[entity].get(str(fields["Id"]))
            if current is not None and self.concurrent_edits:
                self.concurrent_edits -= 1
                self.update(entity, current["Id"], {})
            if current is None:
                raise Reject(
                    fault(
                        400,
                        "610",
                        "Object Not Found",
                        "Object Not Found : Something you're trying to use has been made inactive or deleted",
                    )
                )
            if str(fields.get("SyncToken")) != current["SyncToken"]:
                self.stale_faults += 1
                raise Reject(
                    fault(
                        400,
                        "5010",
                        "Stale Object Error",
                        "Stale Object Error : You and another user were working on the same thing. "
                        "If you continue, you may erase the other user's work.",
                    )
                )
            if not fields.get("sparse"):
                return self.update(
                    entity, current["Id"], {k: v for k, v in fields.items() if k not in ("Id", "SyncToken")}
                )
            changes = {k: v for k, v in fields.items() if k not in ("Id", "SyncToken", "sparse", "MetaData")}
            if entity == "Customer" and "DisplayName" in changes:
                clash = [
                    o for o in self.find("Customer", DisplayName=changes["DisplayName"]) if o["Id"] != current["Id"]
                ]
                if clash:
                    raise Reject(fault(400, "6240", "Duplicate Name Exists Error", "The name supplied already exists."))
            return self.update(entity, current["Id"], changes)

    # --- the HTTP API ---

    def api(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> Reply:
        match = re.match(r"^/v3/company/([^/]+)/(\w+)(?:/(\w+))?$", path)
        if not match:
            return fault(404, "0", "Not Found", f"no such resource {path}", "SERVICE")
        realm, resource, obj_id = match.groups()
        company = self.bearer_company(headers)
        if company is None:
            error = {
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired or invalid",
                "code": "3200",
            }
            return Reply(
                401,
                {"fault": {"error": [error], "type": "AUTHENTICATION"}, "time": stamp(now())},
                {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
            )
        if realm != company or realm != self.realm_id:
            return fault(
                403, "3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", "", "SECURITY"
            )
        if self.over_limit(realm):
            return fault(
                429,
                "3001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "The request limit was reached.",
                "SERVICE",
            )
        if resource == "query" and method == "GET":
            return self.query(query.get("query", [""])[-1])
        if resource == "cdc" and method == "GET":
            return self.cdc(query.get("entities", [""])[-1], query.get("changedSince", [""])[-1])
        entity = next((e for e in ENTITIES if e.lower() == resource.lower()), None)
        if entity is None:
            return fault(400, "4000", "Unsupported Operation", f"{resource} is not supported")
        if method == "GET" and obj_id:
            with self.data_lock:
                found = self.objects[entity].get(obj_id)
            if found is None:
                return fault(400, "610", "Object Not Found", "Object Not Found")
            return Reply(200, {entity: found, "time": stamp(now())})
        if method == "POST" and not obj_id:
            request_id = query.get("requestid", [""])[-1]
            if request_id and request_id in self.idempotent:
                return self.idempotent[request_id]
            try:
                fields = json.loads(body or b"{}")
            except ValueError:
                return fault(
                    400, "2020", "Required param missing, need to supply the required value for the API", "body"
                )
            try:
                obj = self.write(entity, fields)
                answer = Reply(200, {entity: obj, "time": stamp(now())})
            except Reject as exc:
                answer = exc.reply
            if request_id:
                self.idempotent[request_id] = answer
            return answer
        return fault(405, "0", "Method Not Allowed", f"{method} {path}", "SERVICE")

    def query(self, text: str) -> Reply:
        match = QUERY.match(text)
        if not match:
            return fault(400, "4000", "Error parsing query", f"QueryParserError: Encountered an error parsing {text!r}")
        entity = next((e for e in ENTITIES if e.lower() == match["entity"].lower()), None)
        if entity is None:
            return fault(400, "4001", "Invalid query", f"QueryValidationError: {match['entity']} is not supported")
        start = int(match["start"] or 1)
        size = int(match["max"] or 100)
        if start < 1 or not 1 <= size <= 1000:
            return fault(400, "4001", "Invalid query", "QueryValidationError: STARTPOSITION >= 1, MAXRESULTS 1..1000")
        with self.data_lock:
            found = list(self.objects[entity].values())
        for condition in re.split(r"\s+and\s+", match["where"] or "", flags=re.IGNORECASE) if match["where"] else []:
            parsed = CONDITION.match(condition)
            if not parsed:
                return fault(400, "4000", "Error parsing query", f"QueryParserError: {condition!r}")
            found = [o for o in found if _matches(o, *parsed.groups())]
        order = (match["order"] or "Id").split()
        key = order[0]
        found.sort(key=lambda o: _sort_key(_field(o, key)), reverse=len(order) > 1 and order[1].lower() == "desc")
        page = found[start - 1 : start - 1 + size]
        result: dict[str, Any] = {}
        if page:
            result = {entity: page, "startPosition": start, "maxResults": len(page)}
        return Reply(200, {"QueryResponse": result, "time": stamp(now())})

    def cdc(self, entities: str, changed_since: str) -> Reply:
        try:
            since = parse_time(changed_since)
        except ValueError:
            return fault(
                400, "2020", "Required param missing, need to supply the required value for the API", "changedSince"
            )
        if since < now() - dt.timedelta(days=30):
            return fault(
                400, "2010", "Request has invalid or unsupported property", "changedSince must be within 30 days"
            )
        responses = []
        budget = 1000
        for name in [e.strip() for e in entities.split(",") if e.strip()]:
            entity = next((e for e in ENTITIES if e.lower() == name.lower()), None)
            if entity is None:
                return fault(400, "2010", "Request has invalid or unsupported property", f"entities: {name}")
            with self.data_lock:
                changed = [
                    o for o in self.objects[entity].values() if parse_time(o["MetaData"]["LastUpdatedTime"]) >= since
                ]
            changed.sort(key=lambda o: (o["MetaData"]["LastUpdatedTime"], int(o["Id"])))
            changed = changed[:budget]
            budget -= len(changed)
            group: dict[str, Any] = {"startPosition": 1, "maxResults": len(changed)}
            if changed:
                group[entity] = changed
            responses.append(group)
        return Reply(200, {"CDCResponse": [{"QueryResponse": responses}], "time": stamp(now())})


def _field(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if part.lower() == "metadata":
            part = "MetaData"
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str) and value.isdigit():
        return (0, int(value))
    return (1, str(value))


def _matches(obj: dict[str, Any], path: str, op: str, given: str) -> bool:
    value = _field(obj, path)
    if value is None:
        return False
    if path.lower().endswith("time"):
        left, right = parse_time(str(value)), parse_time(given)
    elif isinstance(value, (int, float)):
        left, right = Decimal(str(value)), Decimal(given)  # type: ignore[assignment]
    else:
        left, right = str(value), given  # type: ignore[assignment]
    return {"=": left == right, ">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]
