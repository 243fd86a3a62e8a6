"""The gateway's credential cache: TTL, tags, and never storing what a revocation overtook."""

from __future__ import annotations

from crmkit.tokens import Principal
from gateway.credcache import CredentialCache

ADA = Principal("T1", "apikey:K1", frozenset({"admin"}))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_verified_credential_is_served_until_its_ttl():
    clock = Clock()
    cache = CredentialCache(30, clock=clock)
    cache.put("crm_secret", ADA, ["apikey:K1", "tenant:T1"], cache.generation())
    assert cache.get("crm_secret") == ADA
    assert cache.get("crm_other") is None
    clock.now += 30
    assert cache.get("crm_secret") is None


def test_a_token_is_never_kept_past_its_own_expiry():
    clock = Clock()
    cache = CredentialCache(30, clock=clock)
    cache.put("a.b.c", ADA, ["client:C1"], cache.generation(), valid_seconds=5)
    clock.now += 5
    assert cache.get("a.b.c") is None
    cache.put("d.e.f", ADA, ["client:C1"], cache.generation(), valid_seconds=-1)
    assert len(cache) == 0


def test_revoking_a_tag_drops_every_credential_it_names():
    cache = CredentialCache(30)
    bob = Principal("T1", "apikey:K2", frozenset())
    cache.put("crm_ada", ADA, ["apikey:K1", "tenant:T1"], cache.generation())
    cache.put("crm_bob", bob, ["apikey:K2", "tenant:T1"], cache.generation())
    cache.revoke(["apikey:K1"])
    assert cache.get("crm_ada") is None and cache.get("crm_bob") == bob
    cache.revoke(["tenant:T1"])
    assert cache.get("crm_bob") is None


def test_a_verification_overtaken_by_a_revocation_is_not_stored():
    cache = CredentialCache(30)
    before = cache.generation()  # the database said "valid" ...
    cache.revoke(["apikey:K1"])  # ... and the revocation arrived before we stored it
    cache.put("crm_ada", ADA, ["apikey:K1"], before)
    assert cache.get("crm_ada") is None


def test_nothing_is_cached_while_revocations_could_be_missed():
    cache = CredentialCache(30, live=False)
    cache.put("crm_ada", ADA, ["apikey:K1"], cache.generation())
    assert cache.get("crm_ada") is None
    cache.resume()
    cache.put("crm_ada", ADA, ["apikey:K1"], cache.generation())
    assert cache.get("crm_ada") == ADA
    cache.suspend()
    assert cache.get("crm_ada") is None and not cache.live


def test_a_zero_ttl_turns_the_cache_off():
    cache = CredentialCache(0)
    cache.put("crm_ada", ADA, ["apikey:K1"], cache.generation())
    assert cache.get("crm_ada") is None


def test_the_cache_stays_bounded():
    cache = CredentialCache(30, max_entries=3)
    for n in range(10):
        cache.put(f"crm_{n}", ADA, [], cache.generation())
    assert len(cache) <= 3
    assert cache.get("crm_9") == ADA
