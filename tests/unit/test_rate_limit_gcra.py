"""GCRA as the gateway applies it: a burst of `limit`, then `limit` per `period`, several buckets at once."""

from gateway.ratelimit import Bucket, InProcessRateLimiter, gcra

KEY = Bucket("k", limit=3, period=60)
TENANT = Bucket("t", limit=5, period=60)


def run(requests: int, buckets, now=0.0, tats=None):
    tats = tats or {b.key: now for b in buckets}
    decisions = []
    for _ in range(requests):
        decision, new = gcra([tats[b.key] for b in buckets], buckets, now)
        if decision.allowed:
            tats = {b.key: t for b, t in zip(buckets, new, strict=True)}
        decisions.append(decision)
    return decisions, tats


def test_a_burst_of_the_limit_is_admitted_and_the_next_refused_with_retry_after():
    decisions, _ = run(4, [KEY])
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after_seconds == 20, "one request per 20 s comes back"
    assert decisions[0].limit == 3 and decisions[2].reset_seconds == 60


def test_capacity_comes_back_at_the_steady_rate():
    _, tats = run(3, [KEY])
    later, _ = run(2, [KEY], now=20_000, tats=tats)
    assert [d.allowed for d in later] == [True, False]


def test_the_tightest_bucket_decides_and_a_refusal_spends_nothing():
    decisions, tats = run(3, [KEY, TENANT])
    assert all(d.allowed for d in decisions) and decisions[-1].remaining == 0
    refused, after = run(1, [KEY, TENANT], tats=tats)
    assert not refused[0].allowed and after == tats


def test_the_in_process_limiter_admits_exactly_the_limit():
    limiter = InProcessRateLimiter()
    admitted = sum(limiter.check([Bucket("x", 10, 3600)]).allowed for _ in range(25))
    assert admitted == 10


def test_headers_come_in_both_spellings():
    decisions, _ = run(4, [KEY])
    headers = decisions[-1].headers()
    assert headers["RateLimit-Remaining"] == headers["X-RateLimit-Remaining"] == "0"
    assert headers["Retry-After"] == "20"
