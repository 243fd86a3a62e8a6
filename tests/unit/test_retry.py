from __future__ import annotations

import datetime as dt

import pytest

from crmkit.retry import RetryPolicy, TokenBucket, parse_retry_after

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_backoff_grows_exponentially_under_a_cap_with_full_jitter() -> None:
    top = RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=10, rng=lambda: 1.0)
    assert [top.delay(n, 500) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    low = RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=10, rng=lambda: 0.25)
    assert low.delay(3, None) == 2.0  # a network error retries too


def test_gives_up_after_max_attempts_and_on_client_errors() -> None:
    policy = RetryPolicy(max_attempts=3, rng=lambda: 0.5)
    assert policy.delay(1, 502) is not None
    assert policy.delay(2, 502) is None
    assert policy.delay(0, 400) is None
    assert policy.delay(0, 404) is None


def test_retry_after_seconds_and_http_date_are_the_floor_for_429() -> None:
    policy = RetryPolicy(base_seconds=1, max_attempts=5, rng=lambda: 0.1)
    assert policy.delay(0, 429, "7", NOW) == 7.0
    later = "Mon, 23 Nov 2026 12:00:30 GMT"
    assert policy.delay(0, 503, later, NOW) == 30.0
    assert policy.delay(0, 429, "garbage", NOW) == pytest.approx(0.1)
    assert policy.delay(0, 429, "100000", NOW) is None  # longer than we are willing to wait


def test_parse_retry_after() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("12", NOW) == 12.0
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", NOW) == 0.0


def test_token_bucket_allows_bursts_then_paces() -> None:
    bucket = TokenBucket(rate=2, capacity=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(10.0) == 0.0  # refilled (to capacity, not beyond)
    assert bucket.tokens == pytest.approx(2.0)


def test_token_bucket_throttles_after_a_429() -> None:
    bucket = TokenBucket(rate=1, capacity=5, now=0.0)
    bucket.throttle(0.0)
    assert bucket.take(0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1, now=0.0)
