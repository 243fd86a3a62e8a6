"""Retry timing and request budgets for connectors that call outside HTTP APIs (pure, no I/O).

- `RetryPolicy.delay`: full-jitter exponential back-off (a random wait in [0, min(cap, base * 2^n)]),
  except that a server's `Retry-After` (seconds or an HTTP date) is honoured as the floor of the wait
  for a 429 or 503; retryable statuses are 408, 425, 429, 500, 502, 503 and 504.
- `TokenBucket`: a per-connection request budget; `take()` answers how long to wait first.
The caller owns the clock and the sleeping, so both are exact in unit tests.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass, field

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 0.5
    cap_seconds: float = 60.0
    max_attempts: int = 5
    # The longest Retry-After obeyed; beyond it the call gives up (the sync run retries later).
    max_retry_after_seconds: float = 300.0
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def delay(
        self, attempt: int, status: int | None, retry_after: str | None = None, now: dt.datetime | None = None
    ) -> float | None:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 0), or None: give up.

        `status` None means a network error (retryable); any other status retries only when listed.
        """
        if attempt + 1 >= self.max_attempts:
            return None
        if status is not None and status not in RETRYABLE_STATUSES:
            return None
        ceiling = min(self.cap_seconds, self.base_seconds * (2**attempt))
        wait = self.rng() * ceiling
        if status in (429, 503):
            asked = parse_retry_after(retry_after, now or dt.datetime.now(dt.UTC))
            if asked is not None:
                if asked > self.max_retry_after_seconds:
                    return None
                wait = max(wait, asked)
        return wait


class TokenBucket:
    """`rate` requests a second on average, bursts of up to `capacity`."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a positive rate and a capacity of at least 1")
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Reserve `cost` tokens; answer the seconds to wait before sending (0: send now)."""
        self._refill(now)
        self.tokens -= cost
        if self.tokens >= 0:
            return 0.0
        return -self.tokens / self.rate

    def throttle(self, now: float) -> None:
        """A server said 429: spend what is left so the next requests wait for a refill."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)
