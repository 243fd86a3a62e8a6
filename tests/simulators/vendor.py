"""What the accounting simulators add to `JsonServer`: OAuth 2.0 (refresh-token grant with rotating
refresh tokens, bearer access tokens that expire), a per-company request limit per minute, and the
signed webhooks the vendor sends. Each vendor's routes, bodies and errors are in its own module."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.simulators.base import JsonServer, Reply, Request


class Reject(Exception):
    """Raised inside a route: answer this instead."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sign(key: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key, body)): both intuit-signature and x-xero-signature."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


class VendorSimulator(JsonServer):
    """Subclasses route API calls in `api` and name their token path."""

    token_path = "/token"
    # Requests a minute per company (realm / organisation); the vendor's published limit by default.
    per_minute = 60

    def __init__(self, client_id: str = "client-1", client_secret: str = "client-secret-1") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (company, expires at)
        self.refresh_tokens: dict[str, str] = {}  # token -> company
        self.access_ttl = 3600.0
        self.webhook_key = secrets.token_urlsafe(24)
        self.oauth_lock = threading.RLock()
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self.forced_throttles = 0
        self.throttled = 0
        self.idempotent: dict[str, Reply] = {}

    @property
    def token_url(self) -> str:
        return self.url + self.token_path

    # --- OAuth 2.0 ---

    def grant(self, company: str) -> tuple[str, str]:
        """What the consent screen hands the app for `company`: (access token, refresh token)."""
        with self.oauth_lock:
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self.access_tokens[access] = (company, time.monotonic() + self.access_ttl)
            self.refresh_tokens[refresh] = company
            return access, refresh

    def expire_access_tokens(self) -> None:
        with self.oauth_lock:
            self.access_tokens = {t: (c, 0.0) for t, (c, _) in self.access_tokens.items()}

    def token_endpoint(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if not hmac.compare_digest(auth, f"Basic {expected}"):
            return Reply(401, {"error": "invalid_client"})
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "refresh_token":
            return Reply(400, {"error": "unsupported_grant_type"})
        with self.oauth_lock:
            company = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # refresh tokens rotate
            if company is None:
                return Reply(400, {"error": "invalid_grant"})
            access, refresh = self.grant(company)
        return Reply(200, self.token_answer(access, refresh))

    def token_answer(self, access: str, refresh: str) -> dict[str, Any]:
        return {"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": 3600}

    def bearer_company(self, headers: dict[str, str] | Any) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self.oauth_lock:
            found = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    # --- limits ---

    def throttle_next(self, count: int = 1) -> None:
        """Answer the next `count` API calls with the vendor's 429, whatever the window says."""
        with self.oauth_lock:
            self.forced_throttles += count

    def over_limit(self, company: str) -> bool:
        with self.oauth_lock:
            if self.forced_throttles:
                self.forced_throttles -= 1
                self.throttled += 1
                return True
            window = self._windows[company]
            moment = time.monotonic()
            while window and window[0] <= moment - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                self.throttled += 1
                return True
            window.append(moment)
            return False

    def remaining(self, company: str) -> int:
        with self.oauth_lock:
            return self.per_minute - len(self._windows[company])

    # --- requests ---

    def handle(self, request: Request) -> Reply:
        parts = urlsplit(request.path)
        if request.method == "POST" and parts.path == self.token_path:
            return self.token_endpoint(request)
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            return self.api(request.method, parts.path, query, dict(request.headers), request.body)
        except Reject as exc:
            return exc.reply

    def api(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    def calls(self, method: str, contains: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and contains in r.path]

    # --- webhooks ---

    def deliver(self, url: str, payload: dict[str, Any], header: str, key: str | None = None) -> requests.Response:
        """POST a webhook the way the vendor does: exact bytes, signed with the webhook key."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = sign(self.webhook_key if key is None else key, body)
        return requests.post(
            url, data=body, headers={"Content-Type": "application/json", header: signature}, timeout=10
        )
