"""Calling an Odoo model method: JSON-2 first, the legacy JSON-RPC when the server has no JSON-2
(docs/adr/0058). Both go through the connectors' one HTTP client (retries, budget).

- JSON-2 (Odoo 19+): `POST {base}/json/2/{model}/{method}`, `Authorization: bearer <api key>`,
  `X-Odoo-Database`, body `{"ids": [...], <named arguments>}`; the answer is the result itself,
  errors are 4xx/5xx with `{"name", "message", ...}`.
- JSON-RPC (before 19, deprecated after): `common.authenticate(db, login, key, {})` → uid, then
  `object.execute_kw(db, uid, key, model, method, [ids], {named arguments})`; errors come as HTTP
  200 with an `error` member.
A 404 on JSON-2 (an HTML page, no Odoo error body) means "no JSON-2 here": the client switches to
JSON-RPC for that connection and remembers it for the life of the process. Named arguments are
used on both, so a call is written once.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from services.integrations.connections import Credentials
from services.integrations.connectors.http import ApiError, HttpApi

JSON2, JSONRPC = "json2", "jsonrpc"


class OdooError(Exception):
    """Odoo refused the call: `name` is its exception class (odoo.exceptions.ValidationError…)."""

    def __init__(self, name: str, message: str, status: int = 0) -> None:
        super().__init__(f"{name}: {message}" if name else message)
        self.name, self.message, self.status = name, message, status

    @property
    def record_level(self) -> bool:
        """About the data sent (validation, missing record), not about the connection or the server."""
        return self.status in (400, 404, 422) or self.name.startswith(
            ("odoo.exceptions.ValidationError", "odoo.exceptions.UserError", "odoo.exceptions.MissingError")
        )


@dataclass
class _Session:
    protocol: str = ""
    uid: int = 0


class OdooClient:
    """Per connection: which protocol works, and the JSON-RPC uid once signed in."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self._sessions: dict[str, _Session] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _session(self, credentials: Credentials) -> _Session:
        with self._lock:
            return self._sessions.setdefault(credentials.connection.id, _Session())

    def protocol(self, credentials: Credentials) -> str:
        return self._session(credentials).protocol

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._sessions.pop(connection_id, None)

    def call(
        self, credentials: Credentials, model: str, method: str, ids: list[int] | None = None, **named: Any
    ) -> Any:
        session = self._session(credentials)
        if session.protocol != JSONRPC:
            try:
                answer = self._json2(credentials, model, method, ids, named)
            except OdooError as exc:
                if exc.status == 404 and not exc.name and not session.protocol:
                    session.protocol = JSONRPC  # no JSON-2 on this server: an older Odoo
                else:
                    raise
            else:
                session.protocol = JSON2
                return answer
        if not session.uid:
            session.uid = self.authenticate(credentials)
        db, key = credentials.connection.data.database, credentials.secrets.api_key
        positional: list[Any] = [ids] if ids is not None else []
        return self._jsonrpc(
            credentials, "object", "execute_kw", [db, session.uid, key, model, method, positional, named]
        )

    def authenticate(self, credentials: Credentials) -> int:
        data = credentials.connection.data
        uid = self._jsonrpc(
            credentials, "common", "authenticate", [data.database, data.username, credentials.secrets.api_key, {}]
        )
        if not uid:
            raise OdooError("odoo.exceptions.AccessDenied", "Access Denied (database, login or API key)", 401)
        return int(uid)

    def _json2(
        self, credentials: Credentials, model: str, method: str, ids: list[int] | None, named: dict[str, Any]
    ) -> Any:
        data = credentials.connection.data
        body = {**({"ids": ids} if ids is not None else {}), **named}
        headers = {"Authorization": f"bearer {credentials.secrets.api_key}", "X-Odoo-Database": data.database}
        try:
            return self.api.request(
                credentials, "POST", f"{data.base_url}/json/2/{model}/{method}", json_body=body, headers=headers
            ).body
        except ApiError as exc:
            error = exc.body if isinstance(exc.body, dict) else {}
            name = str(error.get("name", ""))
            raise OdooError(name, str(error.get("message", exc.message))[:1000], exc.status) from None

    def _jsonrpc(self, credentials: Credentials, service: str, method: str, args: list[Any]) -> Any:
        call = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        try:
            answer = self.api.request(
                credentials, "POST", f"{credentials.connection.data.base_url}/jsonrpc", json_body=call
            ).body
        except ApiError as exc:
            raise OdooError("", exc.message, exc.status) from None
        if not isinstance(answer, dict):
            raise OdooError("", "the server's JSON-RPC answer is not an object", 502)
        if "error" in answer:
            data = answer["error"].get("data") or {}
            name = str(data.get("name", ""))
            status = 401 if name.endswith("AccessDenied") else 422 if name.startswith("odoo.exceptions") else 500
            raise OdooError(name, str(data.get("message", answer["error"].get("message", "")))[:1000], status)
        return answer.get("result")
