"""The one HTTP client every HTTP-API connector (Odoo, QuickBooks, Xero) calls through (docs/adr/0057).

- Retries: `crmkit.retry.RetryPolicy` — full-jitter exponential back-off on network errors and
  408/425/429/5xx, a `Retry-After` on 429/503 honoured as the floor of the wait (and a wait longer
  than the policy allows gives up: the run fails and the next one resumes from the cursors).
- Request budget: a token bucket per connection (`crmkit.retry.TokenBucket`) sized from the
  connection's requests a minute (the vendor's published limit unless set), drained on a 429 so
  the requests after it wait for the refill. Buckets live in the process: replicas each keep
  their own (documented in the ADR), the vendors' 429s keep everyone honest.
- OAuth 2.0: `oauth2=True` sends the stored access token, refreshing it first when it is missing
  or about to expire (and once more on a 401), through `Connections.refresh_tokens`, which seals
  the new tokens (a rotated refresh token included) and lets one caller refresh at a time.
- Secrets: no header or body is logged; errors carry the status and the server's body only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3

from crmkit.retry import RetryPolicy, TokenBucket
from services.integrations.connections import Connections, Credentials

log = logging.getLogger(__name__)

USER_AGENT = "crm-suite-integrations/1"
# Refresh an access token this long before it expires, so it does not expire in flight.
EXPIRY_MARGIN = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    # The parsed JSON body (None when empty), or the text when it is not JSON.
    body: Any


class ApiError(Exception):
    """A call that did not succeed: `status` 0 for a network error; `body` is the server's answer."""

    def __init__(self, status: int, message: str, body: Any = None, retried: int = 0) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.body = body
        self.retried = retried

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message


def _parse(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")[:2000]


def _describe(body: Any) -> str:
    if isinstance(body, str):
        return body[:500]
    return json.dumps(body)[:500] if body is not None else ""


@dataclass
class Budgets:
    """A token bucket per connection: at most the budget in any minute (burst of a tenth of it)."""

    monotonic: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[int, TokenBucket]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bucket(self, credentials: Credentials) -> TokenBucket:
        per_minute = credentials.connection.data.budget_per_minute
        with self._lock:
            found = self._buckets.get(credentials.connection.id)
            if found is None or found[0] != per_minute:
                burst = max(1.0, per_minute / 10)
                # burst + rate * 60 <= per_minute: never more than the budget in any 60 seconds.
                rate = max(per_minute - burst, 1.0) / 60
                found = (per_minute, TokenBucket(rate, burst, self.monotonic()))
                self._buckets[credentials.connection.id] = found
            return found[1]

    def wait(self, credentials: Credentials) -> float:
        bucket = self.bucket(credentials)
        with self._lock:
            return bucket.take(self.monotonic())

    def throttle(self, credentials: Credentials) -> None:
        bucket = self.bucket(credentials)
        with self._lock:
            bucket.throttle(self.monotonic())


class HttpApi:
    def __init__(
        self,
        connections: Connections,
        policy: RetryPolicy | None = None,
        budgets: Budgets | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.connections = connections
        self.policy = policy or RetryPolicy()
        self.budgets = budgets or Budgets()
        self.sleep = sleep
        self.pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(10.0, timeout_seconds), read=timeout_seconds), retries=False
        )

    def request(
        self,
        credentials: Credentials,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        oauth2: bool = False,
    ) -> Response:
        """Call the API with retries and the connection's budget; answer a 2xx response or raise ApiError."""
        sent_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent_headers["Content-Type"] = "application/json; charset=utf-8"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        refreshed = False
        attempt = 0
        while True:
            if oauth2:
                credentials = self.fresh_token(credentials, force=False)
                sent_headers["Authorization"] = f"Bearer {credentials.secrets.access_token}"
            wait = self.budgets.wait(credentials)
            if wait > 0:
                self.sleep(wait)
            status, response_headers, data = self._send(method, url, body, sent_headers)
            if 200 <= status < 300:
                return Response(status, response_headers, _parse(data))
            if status == 401 and oauth2 and not refreshed:
                # Revoked or expired early: refresh once, then it is a real failure.
                refreshed = True
                credentials = self.fresh_token(credentials, force=True)
                continue
            if status == 429:
                self.budgets.throttle(credentials)
            delay = self.policy.delay(attempt, status or None, response_headers.get("retry-after"))
            path = urllib.parse.urlsplit(url).path
            if delay is None:
                message = _describe(_parse(data)) if status else data.decode()
                level = logging.WARNING if attempt or not status or status >= 500 else logging.INFO
                log.log(level, "%s %s failed after %d attempt(s): %s", method, path, attempt + 1, status or message)
                raise ApiError(status, message, _parse(data) if status else None, attempt)
            log.info("%s %s answered %s; retrying in %.2fs", method, path, status or "a network error", delay)
            self.sleep(delay)
            attempt += 1

    def _send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            response = self.pool.request(method, url, body=body, headers=dict(headers), redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            return 0, {}, f"{type(exc).__name__}: {exc}"[:500].encode()
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.data

    # --- OAuth 2.0 (QuickBooks, Xero) ---

    def fresh_token(self, credentials: Credentials, force: bool) -> Credentials:
        """Credentials whose access token is good for a while, refreshed (and sealed) when needed."""
        seen = credentials.secrets.access_token

        def still_valid(current: Credentials) -> bool:
            if force:  # valid only if someone else refreshed since our 401
                return bool(current.secrets.access_token) and current.secrets.access_token != seen
            expires = current.connection.data.access_token_expire_time
            return bool(current.secrets.access_token) and expires is not None and expires - EXPIRY_MARGIN > now()

        if still_valid(credentials):
            return credentials
        connection = credentials.connection
        return self.connections.refresh_tokens(connection.tenant_id, connection.id, still_valid, self._refresh)

    def _refresh(self, credentials: Credentials) -> tuple[str, dt.datetime, str]:
        """The refresh_token grant (RFC 6749 §6), client authenticated with HTTP Basic (§2.3.1)."""
        data = credentials.connection.data
        client = f"{urllib.parse.quote(data.client_id)}:{urllib.parse.quote(credentials.secrets.client_secret)}"
        response = self.request(
            credentials,
            "POST",
            data.token_url,
            form={"grant_type": "refresh_token", "refresh_token": credentials.secrets.refresh_token},
            headers={"Authorization": "Basic " + base64.b64encode(client.encode()).decode()},
        )
        answer = response.body if isinstance(response.body, dict) else {}
        access_token = str(answer.get("access_token", ""))
        if not access_token:
            raise ApiError(response.status, "the token endpoint answered no access_token")
        expires_in = int(answer.get("expires_in", 3600))
        return access_token, now() + dt.timedelta(seconds=expires_in), str(answer.get("refresh_token", ""))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
