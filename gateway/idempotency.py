"""`Idempotency-Key` on POST and PATCH (API.md, docs/adr/0012), the way Stripe does it.

The first request with a key claims it (atomically: SET NX) and runs; its response is stored for
the retention period (24 h) and replayed for the same key and the same request. The same key with
a different request is 422; a request whose key is still held by a running one is 409 (retry it
later and it replays). A request that never reached a service (503) gives its key back.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from crmkit.errors import ServiceError


class IdempotencyUnavailable(ServiceError):
    grpc_code = "UNAVAILABLE"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claimed:
    """This request holds the key and runs."""


@dataclass(frozen=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True)
class InFlight:
    """Another request with the key is still running."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used for a different request."""


Outcome = Claimed | Replay | InFlight | Mismatch


def fingerprint(method: str, path: str, query: str, body: Any) -> str:
    canonical = json.dumps([method, path, query, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _encode(state: str, print_: str, response: StoredResponse | None = None) -> str:
    record: dict[str, Any] = {"state": state, "fp": print_}
    if response is not None:
        record |= {
            "status": response.status,
            "body": base64.b64encode(response.body).decode(),
            "headers": response.headers,
        }
    return json.dumps(record)


def _decide(raw: str | bytes, print_: str) -> Outcome:
    record = json.loads(raw)
    if record["fp"] != print_:
        return Mismatch()
    if record["state"] == "running":
        return InFlight()
    return Replay(StoredResponse(record["status"], base64.b64decode(record["body"]), record["headers"]))


class IdempotencyStore(Protocol):
    def begin(self, key: str, print_: str, hold_seconds: float) -> Outcome: ...
    def finish(self, key: str, print_: str, response: StoredResponse, keep_seconds: float) -> None: ...
    def release(self, key: str) -> None: ...


class RedisIdempotencyStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def begin(self, key: str, print_: str, hold_seconds: float) -> Outcome:
        try:
            for _ in range(3):  # the key can expire between the failed SET and the GET
                if self.client.set(key, _encode("running", print_), nx=True, px=int(hold_seconds * 1000)):
                    return Claimed()
                raw = self.client.get(key)
                if raw is not None:
                    return _decide(raw, print_)  # type: ignore[arg-type]
        except redis.RedisError:
            raise IdempotencyUnavailable("idempotency keys cannot be checked right now; retry shortly") from None
        raise IdempotencyUnavailable("idempotency key store is contended; retry shortly")

    def finish(self, key: str, print_: str, response: StoredResponse, keep_seconds: float) -> None:
        # On failure the work is still done; a retry then runs again, as it would without a key.
        with contextlib.suppress(redis.RedisError):
            self.client.set(key, _encode("done", print_, response), px=int(keep_seconds * 1000))

    def release(self, key: str) -> None:
        with contextlib.suppress(redis.RedisError):  # else the hold expires by itself
            self.client.delete(key)


class InProcessIdempotencyStore:
    def __init__(self) -> None:
        self._records: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def begin(self, key: str, print_: str, hold_seconds: float) -> Outcome:
        now = time.monotonic()
        with self._lock:
            found = self._records.get(key)
            if found is None or found[0] <= now:
                self._records[key] = (now + hold_seconds, _encode("running", print_))
                return Claimed()
            return _decide(found[1], print_)

    def finish(self, key: str, print_: str, response: StoredResponse, keep_seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._records[key] = (now + keep_seconds, _encode("done", print_, response))
            if len(self._records) > 100_000:
                self._records = {k: v for k, v in self._records.items() if v[0] > now}

    def release(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)
