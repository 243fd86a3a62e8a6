"""Rate limits per credential and per tenant, by route class, with GCRA (docs/adr/0011).

GCRA (the generic cell rate algorithm) keeps one number per bucket, the theoretical arrival time
(TAT) of the next request: a request is admitted when TAT - period <= now, and then moves TAT on
by period / limit. It allows a burst of `limit` and then a steady `limit` per `period`.

In Redis, one Lua script checks every bucket of a request and updates them only when all admit
it, with Redis' own clock, so any number of gateway processes share one budget exactly. The
embedded mode (`--target all` without CRM_REDIS_URL) uses the same algorithm in process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int
    period: float  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the tightest bucket is full again
    retry_after_seconds: int  # 0 when allowed

    def headers(self) -> dict[str, str]:
        values = {"Limit": str(self.limit), "Remaining": str(self.remaining), "Reset": str(self.reset_seconds)}
        headers = {f"RateLimit-{k}": v for k, v in values.items()}
        headers |= {f"X-RateLimit-{k}": v for k, v in values.items()}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


class RateLimiter(Protocol):
    def check(self, buckets: Sequence[Bucket]) -> Decision: ...


def gcra(tats: Sequence[float], buckets: Sequence[Bucket], now: float) -> tuple[Decision, list[float]]:
    """Pure GCRA over several buckets (times in ms): the decision, and the TATs to store if allowed."""
    allowed, retry_after = True, 0.0
    tightest: tuple[int, int, float] | None = None  # remaining, limit, reset
    new_tats = []
    for tat, bucket in zip(tats, buckets, strict=True):
        period = bucket.period * 1000
        interval = period / bucket.limit
        tat = max(tat, now)
        new_tat = tat + interval
        allow_at = new_tat - period
        if now < allow_at:
            allowed = False
            retry_after = max(retry_after, allow_at - now)
            remaining, reset = 0, tat - now
        else:
            remaining, reset = int((period - (new_tat - now)) // interval), new_tat - now
        new_tats.append(new_tat)
        if tightest is None or remaining < tightest[0]:
            tightest = (remaining, bucket.limit, reset)
    assert tightest is not None
    remaining, limit, reset = tightest
    decision = Decision(
        allowed,
        limit,
        remaining,
        math.ceil(reset / 1000),
        0 if allowed else max(1, math.ceil(retry_after / 1000)),
    )
    return decision, new_tats


class InProcessRateLimiter:
    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, buckets: Sequence[Bucket]) -> Decision:
        with self._lock:
            now = time.monotonic() * 1000
            decision, new_tats = gcra([self._tats.get(b.key, now) for b in buckets], buckets, now)
            if decision.allowed:
                for bucket, tat in zip(buckets, new_tats, strict=True):
                    self._tats[bucket.key] = tat
            if len(self._tats) > 100_000:  # drop buckets that are full again
                self._tats = {k: v for k, v in self._tats.items() if v > now}
            return decision


# The same algorithm as gcra(), in Redis: KEYS are the buckets, ARGV limit and period (ms) of each.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local allowed, retry_after = 1, 0
local best_remaining, best_limit, best_reset = nil, 0, 0
local new_tats = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local interval = period / limit
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period
  local remaining, reset
  if now < allow_at then
    allowed = 0
    if allow_at - now > retry_after then retry_after = allow_at - now end
    remaining, reset = 0, tat - now
  else
    remaining, reset = math.floor((period - (new_tat - now)) / interval), new_tat - now
  end
  new_tats[i] = new_tat
  if best_remaining == nil or remaining < best_remaining then
    best_remaining, best_limit, best_reset = remaining, limit, reset
  end
end
if allowed == 1 then
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, tostring(new_tats[i]), 'PX', math.ceil(new_tats[i] - now) + 1000)
  end
end
return {allowed, best_limit, best_remaining, math.ceil(best_reset), math.ceil(retry_after)}
"""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script = client.register_script(GCRA_SCRIPT)

    def check(self, buckets: Sequence[Bucket]) -> Decision:
        args: list[float] = []
        for bucket in buckets:
            args += [bucket.limit, bucket.period * 1000]
        try:
            allowed, limit, remaining, reset_ms, retry_ms = self.script(keys=[b.key for b in buckets], args=args)
        except redis.RedisError as exc:
            # Availability over limiting: a Redis outage must not take the API down with it.
            log.warning("rate limiter unavailable, admitting the request: %s", type(exc).__name__)
            tightest = min(buckets, key=lambda b: b.limit)
            return Decision(True, tightest.limit, tightest.limit, 0, 0)
        return Decision(
            bool(allowed),
            int(limit),
            int(remaining),
            math.ceil(int(reset_ms) / 1000),
            0 if allowed else max(1, math.ceil(int(retry_ms) / 1000)),
        )
