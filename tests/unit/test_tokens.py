import jwt
import pytest

from crmkit.errors import Unauthenticated
from crmkit.tokens import InternalTokens, Principal

SECRET = "s" * 40
ALICE = Principal("T1", "apikey:K1", frozenset({"contacts:read"}))


def test_a_minted_token_verifies_to_the_same_principal():
    tokens = InternalTokens(SECRET)
    assert tokens.verify(tokens.mint(ALICE)) == ALICE


def test_expired_tokens_are_refused():
    tokens = InternalTokens(SECRET, ttl_seconds=60, leeway_seconds=0)
    with pytest.raises(Unauthenticated):
        tokens.verify(tokens.mint(ALICE, now=1_000_000))


def test_tokens_signed_with_another_secret_or_tampered_are_refused():
    forged = InternalTokens("x" * 40).mint(ALICE)
    with pytest.raises(Unauthenticated):
        InternalTokens(SECRET).verify(forged)
    header, payload, signature = InternalTokens(SECRET).mint(ALICE).split(".")
    with pytest.raises(Unauthenticated):
        InternalTokens(SECRET).verify(f"{header}.{payload}x.{signature}")


def test_unsigned_tokens_are_refused():
    unsigned = jwt.encode({"sub": "x", "tid": "T1"}, key=None, algorithm="none")
    with pytest.raises(Unauthenticated):
        InternalTokens(SECRET).verify(unsigned)


def test_a_missing_token_is_refused():
    with pytest.raises(Unauthenticated):
        InternalTokens(SECRET).verify("")


def test_short_secrets_are_refused():
    with pytest.raises(ValueError):
        InternalTokens("short")


def test_admin_implies_every_scope():
    assert Principal("T", "s", frozenset({"admin"})).has_scope("sales:write")
    assert not ALICE.has_scope("contacts:write")


def test_the_anonymous_principal_round_trips_without_tenant_or_scopes():
    tokens = InternalTokens(SECRET)
    anonymous = Principal.anonymous("203.0.113.7")
    verified = tokens.verify(tokens.mint(anonymous))
    assert verified == anonymous and verified.is_anonymous
    assert not Principal("", "anonymous:x", frozenset({"admin"})).has_scope("contacts:read")


def test_a_tenantless_token_that_does_not_say_anonymous_is_refused():
    claims = jwt.decode(
        InternalTokens(SECRET).mint(Principal.anonymous("x")), SECRET, algorithms=["HS256"], audience="crm-internal"
    )
    for forged in ({**claims, "anon": False}, {**claims, "anon": True, "tid": "T1"}):
        with pytest.raises(Unauthenticated):
            InternalTokens(SECRET).verify(jwt.encode(forged, SECRET, algorithm="HS256"))


def test_a_reused_token_is_kept_for_half_its_lifetime_then_minted_again(monkeypatch):
    tokens = InternalTokens(SECRET, ttl_seconds=60)
    principal = Principal("t1", "apikey:k1", frozenset({"contacts:read"}))
    clock = [1_000_000.0]
    monkeypatch.setattr("crmkit.tokens.time.time", lambda: clock[0])
    first = tokens.reused(principal)
    clock[0] += 29
    assert tokens.reused(principal) == first
    clock[0] += 1  # half the TTL is gone: a new token, valid for a full TTL again
    renewed = tokens.reused(principal)
    assert renewed != first
    assert jwt.decode(renewed, options={"verify_signature": False})["exp"] == 1_000_030 + 60


def test_reused_tokens_are_per_principal():
    tokens = InternalTokens(SECRET)
    reader = Principal("t1", "apikey:k1", frozenset({"contacts:read"}))
    writer = Principal("t1", "apikey:k1", frozenset({"contacts:read", "contacts:write"}))
    assert tokens.verify(tokens.reused(reader)) == reader
    assert tokens.verify(tokens.reused(writer)) == writer
    assert tokens.verify(tokens.reused(reader)) == reader


def test_a_call_with_a_long_deadline_gets_a_token_that_outlives_it(monkeypatch):
    tokens = InternalTokens(SECRET, ttl_seconds=60)
    clock = [1_000_000.0]
    monkeypatch.setattr("crmkit.tokens.time.time", lambda: clock[0])
    first = tokens.reused(ALICE)
    clock[0] += 10
    assert tokens.reused(ALICE, outlives_seconds=5) == first
    fresh = tokens.reused(ALICE, outlives_seconds=55)  # 50 s left: not enough for a 55 s deadline
    assert fresh != first
    assert jwt.decode(fresh, options={"verify_signature": False})["exp"] == 1_000_010 + 60
