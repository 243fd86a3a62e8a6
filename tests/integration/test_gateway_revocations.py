"""Revocations reach every gateway process through Redis pub/sub; rate limits cost one round trip."""

from __future__ import annotations

import threading
import time
import uuid

import redis

from crmkit.tokens import Principal
from gateway.credcache import CredentialCache, Revocations, channel_name
from gateway.ratelimit import Bucket, RedisRateLimiter

ADA = Principal("T1", "apikey:K1", frozenset({"admin"}))


def wait_until(condition, timeout: float = 5.0) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_revocation_announced_by_one_process_empties_the_others_cache(redis_server):
    channel = channel_name(f"crmtest-{uuid.uuid4().hex[:8]}")
    stop = threading.Event()
    processes = []
    for _ in range(2):
        cache = CredentialCache(30, live=False)
        revocations = Revocations(cache, redis.Redis.from_url(redis_server, socket_timeout=2), channel)
        threading.Thread(target=revocations.listen, args=(stop,), daemon=True).start()
        processes.append((cache, revocations))
    try:
        assert wait_until(lambda: all(cache.live for cache, _ in processes)), "both subscribed"
        for cache, _ in processes:
            cache.put("crm_ada", ADA, ["apikey:K1", "tenant:T1"], cache.generation())
            assert cache.get("crm_ada") == ADA
        processes[0][1].announce("apikey:K1")
        assert processes[0][0].get("crm_ada") is None, "the announcing process drops it before publishing"
        assert wait_until(lambda: processes[1][0].get("crm_ada") is None), "the other process dropped it"
    finally:
        stop.set()
    assert wait_until(lambda: not any(cache.live for cache, _ in processes)), "a stopped listener stops caching"


def test_a_lost_subscription_stops_caching(redis_server):
    channel = channel_name(f"crmtest-{uuid.uuid4().hex[:8]}")
    name = f"crmtest-revocations-{uuid.uuid4().hex[:6]}"
    cache = CredentialCache(30, live=False)
    client = redis.Redis.from_url(redis_server, socket_timeout=2, client_name=name)
    stop = threading.Event()
    threading.Thread(target=Revocations(cache, client, channel).listen, args=(stop,), daemon=True).start()
    try:
        assert wait_until(lambda: cache.live)
        cache.put("crm_ada", ADA, ["apikey:K1"], cache.generation())
        admin = redis.Redis.from_url(redis_server)
        # Cut the subscriber's connection, as a Redis restart would.
        killed = sum(admin.client_kill_filter(_id=c["id"]) for c in admin.client_list() if c.get("name") == name)
        assert killed >= 1
        assert wait_until(lambda: cache.get("crm_ada") is None), "the cache forgot everything"
        assert wait_until(lambda: cache.live), "and caches again once subscribed anew"
    finally:
        stop.set()


def test_both_buckets_are_checked_in_one_round_trip(redis_server):
    calls: list[tuple[object, ...]] = []

    class Counting(redis.Redis):
        def execute_command(self, *args, **options):
            calls.append(args)
            return super().execute_command(*args, **options)

    client = Counting.from_url(redis_server)
    limiter = RedisRateLimiter(client)
    prefix = f"crmtest-{uuid.uuid4().hex[:8]}:rl"
    buckets = [Bucket(f"{prefix}:c:K1", 3, 60), Bucket(f"{prefix}:t:T1", 6, 60)]
    limiter.check(buckets)  # loads the script once
    calls.clear()
    decisions = [limiter.check(buckets) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [c[0] for c in calls] == ["EVALSHA"] * 3, calls
    client.delete(*[b.key for b in buckets])
