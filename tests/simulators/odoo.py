"""An Odoo server as its external APIs behave (docs/adr/0058), for the integrations tests.

- JSON-2 (Odoo 19+): `POST /json/2/<model>/<method>`, `Authorization: bearer <api key>`,
  `X-Odoo-Database`, a JSON object of named arguments (`ids`, `context`, the method's parameters);
  the answer is the method's return value as JSON; errors are 4xx/5xx with
  `{"name", "message", "arguments", "context", "debug"}` (401 for a bad key, 404 for an unknown
  model or method, 422 for bad arguments, 403 for access errors).
- The legacy JSON-RPC (`POST /jsonrpc`, JSON-RPC 2.0 `call`): `common.version`,
  `common.authenticate(db, login, key, {})` → uid or false, `object.execute_kw(db, uid, key,
  model, method, args, kwargs)`; errors are HTTP 200 with `{"error": {"code": 200, "message":
  "Odoo Server Error", "data": {"name", "message", "arguments", "debug"}}}`.
- `version=17` has no JSON-2: `/json/2/...` is a 404 HTML page, as on an older server.
- Models: res.partner (name, is_company, parent_id, email, phone, function, website, ref,
  write_date…), product.product, sale.order and sale.order.line with x2many commands
  (0 create, 1 update, 2 delete, 5 clear, 6 set). `write_date` is Odoo's "YYYY-MM-DD HH:MM:SS"
  in UTC (no fraction: records written in one second tie), moved by every write; the simulated
  clock advances a second per write, and `tick` lets a test step it further.
- Faults: `fail_next(prefix, Reply(429, …, {"Retry-After": "1"}))` from the base server.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from typing import Any

from tests.simulators.base import JsonServer, Reply, Request

FIELDS: dict[str, dict[str, Any]] = {
    "res.partner": {
        "name": "",
        "is_company": False,
        "parent_id": False,
        "email": False,
        "phone": False,
        "function": False,
        "website": False,
        "ref": False,
        "comment": False,
        "active": True,
    },
    "product.product": {"name": "", "default_code": False, "list_price": 0.0, "active": True},
    "sale.order": {
        "name": "",
        "partner_id": False,
        "client_order_ref": False,
        "origin": False,
        "state": "draft",
        "order_line": [],
        "amount_total": 0.0,
        "note": False,
    },
    "sale.order.line": {
        "order_id": False,
        "product_id": False,
        "name": "",
        "product_uom_qty": 1.0,
        "price_unit": 0.0,
        "price_subtotal": 0.0,
    },
}
MANY2ONE = {"parent_id": "res.partner", "partner_id": "res.partner", "product_id": "product.product"}
REQUIRED = {"res.partner": ("name",), "sale.order": ("partner_id",), "sale.order.line": ("product_id",)}


class OdooError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


def odoo_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class OdooSimulator(JsonServer):
    def __init__(
        self,
        database: str = "acme",
        login: str = "bot@acme.example.com",
        api_key: str = "odoo-key-1",
        version: int = 19,
    ) -> None:
        super().__init__()
        self.database, self.login, self.api_key, self.version = database, login, api_key, version
        self.uid = 2
        self.records: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in FIELDS}
        self.ids = {model: itertools.count(1) for model in FIELDS}
        self.now = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.UTC)
        self.data_lock = threading.RLock()

    # --- the test's side ---

    def tick(self, seconds: int = 1) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def add(self, model: str, **values: Any) -> int:
        with self.data_lock:
            return self._create(model, [values])[0]

    def change(self, model: str, record_id: int, **values: Any) -> None:
        with self.data_lock:
            self._write(model, [record_id], values)

    def get(self, model: str, record_id: int) -> dict[str, Any]:
        with self.data_lock:
            return dict(self.records[model][record_id])

    def all(self, model: str) -> list[dict[str, Any]]:
        with self.data_lock:
            return [dict(r) for r in self.records[model].values()]

    # --- HTTP ---

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/json/2/"):
            if self.version < 19:
                return Reply(
                    404, raw=b"<!DOCTYPE html><title>404: Not Found</title>", headers={"Content-Type": "text/html"}
                )
            return self._json2(request)
        if request.path == "/jsonrpc":
            return self._jsonrpc(request)
        return Reply(404, raw=b"<!DOCTYPE html><title>404: Not Found</title>", headers={"Content-Type": "text/html"})

    def _json2(self, request: Request) -> Reply:
        try:
            if request.headers.get("authorization", "").lower() != f"bearer {self.api_key}".lower():
                raise OdooError(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
            if request.headers.get("x-odoo-database", self.database) != self.database:
                raise OdooError(404, "werkzeug.exceptions.NotFound", "database not found")
            _, _, _, model, method = request.path.split("/", 4)
            body = request.json()
            if not isinstance(body, dict):
                raise OdooError(400, "werkzeug.exceptions.BadRequest", "the body must be a JSON object")
            body.pop("context", None)
            ids = body.pop("ids", None)
            return Reply(200, self.execute(model, method, ids, body))
        except OdooError as exc:
            return Reply(exc.status, self._error(exc))

    def _error(self, exc: OdooError) -> dict[str, Any]:
        return {
            "name": exc.name,
            "message": exc.message,
            "arguments": [exc.message, exc.status],
            "context": {},
            "debug": f"Traceback (most recent call last):\n  ...\n{exc.name}: {exc.message}\n",
        }

    def _jsonrpc(self, request: Request) -> Reply:
        call = request.json()
        params = call.get("params", {})
        try:
            service, method, args = params.get("service"), params.get("method"), params.get("args", [])
            if service == "common" and method == "version":
                result: Any = {"server_version": f"{self.version}.0", "protocol_version": 1}
            elif service == "common" and method == "authenticate":
                db, login, key = args[0], args[1], args[2]
                result = self.uid if (db, login, key) == (self.database, self.login, self.api_key) else False
            elif service == "object" and method == "execute_kw":
                db, uid, key, model, name = args[:5]
                positional = args[5] if len(args) > 5 else []
                named = args[6] if len(args) > 6 else {}
                if (db, uid, key) != (self.database, self.uid, self.api_key):
                    raise OdooError(200, "odoo.exceptions.AccessDenied", "Access Denied")
                ids = positional[0] if positional and name in ("read", "write", "unlink") else None
                rest = positional[1:] if ids is not None else positional
                if rest:  # positional parameters in the order of the method's signature
                    order = {"create": ["vals_list"], "write": ["vals"], "search_read": ["domain", "fields"]}
                    named = {**dict(zip(order.get(name, ["domain"]), rest, strict=False)), **named}
                result = self.execute(model, name, ids, dict(named))
            else:
                raise OdooError(200, "werkzeug.exceptions.NotFound", f"no service {service}.{method}")
        except OdooError as exc:
            error = {"code": 200, "message": "Odoo Server Error", "data": {**self._error(exc), "context": None}}
            return Reply(200, {"jsonrpc": "2.0", "id": call.get("id"), "error": error})
        return Reply(200, {"jsonrpc": "2.0", "id": call.get("id"), "result": result})

    # --- the ORM, as far as the tests need it ---

    def execute(self, model: str, method: str, ids: list[int] | None, kwargs: dict[str, Any]) -> Any:
        if model not in FIELDS:
            raise OdooError(404, "werkzeug.exceptions.NotFound", f"model {model} not found")
        handlers: dict[str, Callable[[], Any]] = {
            "search": lambda: self._search(model, **_only(kwargs, "domain", "offset", "limit", "order")),
            "search_count": lambda: len(self._search(model, **_only(kwargs, "domain"))),
            "search_read": lambda: self._read(
                model,
                self._search(model, **_only(kwargs, "domain", "offset", "limit", "order")),
                kwargs.get("fields"),
            ),
            "read": lambda: self._read(model, self._existing(model, ids), kwargs.get("fields")),
            "create": lambda: self._create(model, _vals_list(kwargs)),
            "write": lambda: self._write(model, self._existing(model, ids), _one(kwargs, "vals")),
        }
        unknown = set(kwargs) - {"domain", "offset", "limit", "order", "fields", "vals_list", "vals"}
        if method not in handlers:
            raise OdooError(404, "werkzeug.exceptions.NotFound", f"method {model}.{method} not found")
        if unknown:
            raise OdooError(422, "builtins.TypeError", f"got an unexpected keyword argument {sorted(unknown)[0]!r}")
        with self.data_lock:
            return handlers[method]()

    def _existing(self, model: str, ids: list[int] | None) -> list[int]:
        if not isinstance(ids, list):
            raise OdooError(422, "builtins.TypeError", "ids must be a list")
        missing = [i for i in ids if i not in self.records[model]]
        if missing:
            raise OdooError(
                404,
                "odoo.exceptions.MissingError",
                f"Record does not exist or has been deleted.\n(Record: {model}({missing[0]},), User: {self.uid})",
            )
        return ids

    def _search(
        self, model: str, domain: list[Any] | None = None, offset: int = 0, limit: int | None = None, order: str = ""
    ) -> list[int]:
        found = [r for r in self.records[model].values() if _matches(r, domain or [])]
        if not any(isinstance(t, list) and t and t[0] == "active" for t in domain or []):
            found = [r for r in found if r.get("active", True)]
        for term in reversed([t.strip() for t in (order or "id").split(",") if t.strip()]):
            name, _, direction = term.partition(" ")
            found.sort(key=lambda r: (r.get(name) is False, r.get(name)), reverse=direction.lower() == "desc")
        found = found[offset:]
        return [r["id"] for r in (found[:limit] if limit else found)]

    def _read(self, model: str, ids: list[int], fields: list[str] | None) -> list[dict[str, Any]]:
        answer = []
        for record_id in ids:
            record = self.records[model][record_id]
            wanted = fields or list(record)
            unknown = [f for f in wanted if f not in record]
            if unknown:
                raise OdooError(422, "builtins.ValueError", f"Invalid field {unknown[0]!r} on model {model!r}")
            row = {"id": record_id}
            for name in wanted:
                value = record[name]
                if name in MANY2ONE and value:
                    target = self.records[MANY2ONE[name]].get(value, {})
                    value = [value, target.get("name", "")]
                row[name] = value
            answer.append(row)
        return answer

    def _check(self, model: str, values: dict[str, Any]) -> None:
        unknown = [f for f in values if f not in FIELDS[model]]
        if unknown:
            raise OdooError(422, "builtins.ValueError", f"Invalid field {unknown[0]!r} on model {model!r}")
        for name, target in MANY2ONE.items():
            value = values.get(name)
            if name in values and value and value not in self.records[target]:
                raise OdooError(
                    422, "odoo.exceptions.ValidationError", f"The record {target}({value},) does not exist."
                )

    def _create(self, model: str, vals_list: list[dict[str, Any]]) -> list[int]:
        created = []
        for vals in vals_list:
            vals = dict(vals)
            lines = vals.pop("order_line", None) if model == "sale.order" else None
            self._check(model, vals)
            missing = [f for f in REQUIRED.get(model, ()) if not vals.get(f)]
            if missing:
                raise OdooError(
                    422,
                    "odoo.exceptions.ValidationError",
                    f"The operation cannot be completed: Missing required fields on {model}: {missing[0]}",
                )
            record_id = next(self.ids[model])
            stamp = self._stamp()
            record = {"id": record_id, **FIELDS[model], **vals, "create_date": stamp, "write_date": stamp}
            if model == "sale.order":
                record["name"] = f"S{record_id:05d}"
                record["order_line"] = []
            self.records[model][record_id] = record
            if lines is not None:
                self._lines(record, lines)
            if model == "sale.order.line":
                record["price_subtotal"] = round(record["product_uom_qty"] * record["price_unit"], 2)
            created.append(record_id)
        return created

    def _write(self, model: str, ids: list[int], vals: dict[str, Any]) -> bool:
        vals = dict(vals)
        lines = vals.pop("order_line", None) if model == "sale.order" else None
        self._check(model, vals)
        for record_id in ids:
            record = self.records[model][record_id]
            if model == "sale.order" and record["state"] != "draft" and lines is not None:
                raise OdooError(
                    422, "odoo.exceptions.UserError", "You cannot change the lines of a confirmed sales order."
                )
            record.update(vals)
            if lines is not None:
                self._lines(record, lines)
            record["write_date"] = self._stamp()
        return True

    def _stamp(self) -> str:
        stamp = odoo_time(self.now)
        self.now += dt.timedelta(seconds=1)
        return stamp

    def _lines(self, order: dict[str, Any], commands: list[list[Any]]) -> None:
        """x2many commands: (0, 0, vals) create, (1, id, vals) update, (2, id) delete, (5,) clear, (6, 0, ids) set."""
        lines = self.records["sale.order.line"]
        for command in commands:
            code = command[0]
            if code == 0:
                [line_id] = self._create("sale.order.line", [{**command[2], "order_id": order["id"]}])
                order["order_line"].append(line_id)
            elif code == 1:
                self._write("sale.order.line", [command[1]], command[2])
            elif code == 2:
                lines.pop(command[1], None)
                order["order_line"].remove(command[1])
            elif code == 5:
                for line_id in order["order_line"]:
                    lines.pop(line_id, None)
                order["order_line"] = []
            elif code == 6:
                order["order_line"] = list(command[2])
            else:
                raise OdooError(422, "builtins.ValueError", f"unknown x2many command {code}")
        order["amount_total"] = round(sum(lines[i]["price_subtotal"] for i in order["order_line"]), 2)


def _only(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in names}


def _one(kwargs: dict[str, Any], name: str) -> dict[str, Any]:
    value = kwargs.get(name)
    if not isinstance(value, dict):
        raise OdooError(422, "builtins.TypeError", f"missing 1 required positional argument: {name!r}")
    return value


def _vals_list(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    value = kwargs.get("vals_list")
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise OdooError(422, "builtins.TypeError", "missing 1 required positional argument: 'vals_list'")
    return value


def _term(record: dict[str, Any], term: list[Any]) -> bool:
    name, operator, value = term
    actual = record.get(name, False)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a is not False and a > b,
        ">=": lambda a, b: a is not False and a >= b,
        "<": lambda a, b: a is not False and a < b,
        "<=": lambda a, b: a is not False and a <= b,
        "in": lambda a, b: a in b,
        "not in": lambda a, b: a not in b,
        "ilike": lambda a, b: isinstance(a, str) and str(b).lower().strip("%") in a.lower(),
        "=ilike": lambda a, b: isinstance(a, str) and a.lower() == str(b).lower(),
    }
    if operator not in compare:
        raise OdooError(422, "builtins.ValueError", f"Invalid domain operator {operator!r}")
    return compare[operator](actual, value)


def _matches(record: dict[str, Any], domain: list[Any]) -> bool:
    """Polish-notation domains: '&' and '|' prefixes, terms [field, operator, value], implicit '&'."""
    stack: list[bool] = []
    for item in reversed(domain):
        if item == "&":
            stack.append(stack.pop() and stack.pop())
        elif item == "|":
            left, right = stack.pop(), stack.pop()
            stack.append(left or right)
        elif item == "!":
            stack.append(not stack.pop())
        elif isinstance(item, list | tuple) and len(item) == 3:
            stack.append(_term(record, list(item)))
        else:
            raise OdooError(422, "builtins.ValueError", f"Invalid leaf {item!r}")
    return all(stack)
