"""Rate limits per credential and per tenant, shared by every gateway process through Redis."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from tests.e2e.support import Api

LIMITS = {"CRM_RATE_LIMITS": "read=10/3600,write=4/3600", "CRM_TENANT_RATE_FACTOR": "2"}


@pytest.fixture(scope="module")
def two_gateways(partner):
    bases = [partner.start_gateway(f"limited-{n}", LIMITS) for n in ("a", "b")]
    yield bases
    for n in ("a", "b"):
        partner.stop(f"limited-{n}")


@pytest.fixture
def tenant_admin(partner, two_gateways):
    """A tenant of its own, so no other test spends its budget."""
    return partner.create_tenant("Throttled")["apiKey"]


def new_key(base: str, admin_key: str, role: str = "partner") -> str:
    created = Api(base, admin_key).post("/v1/apiKeys", json={"displayName": "k", "roles": [role]})
    assert created.status_code == 200, created.text
    return created.json()["secret"]


def test_two_gateway_processes_share_one_budget_per_credential(two_gateways, tenant_admin):
    key = new_key(two_gateways[0], tenant_admin)
    apis = itertools.cycle([Api(base, key) for base in two_gateways])
    responses = [next(apis).get("/v1/contacts") for _ in range(30)]
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10, statuses
    assert set(statuses) == {200, 429}
    refused = next(r for r in responses if r.status_code == 429)
    error = refused.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Remaining"] == refused.headers["X-RateLimit-Remaining"] == "0"


def test_every_api_response_announces_the_limit(two_gateways, tenant_admin):
    api = Api(two_gateways[1], new_key(two_gateways[0], tenant_admin))
    first, second = api.get("/v1/contacts"), api.get("/v1/contacts/nope")
    assert second.status_code == 404
    for response in (first, second):
        for prefix in ("RateLimit", "X-RateLimit"):
            assert response.headers[f"{prefix}-Limit"] == "10"
            assert int(response.headers[f"{prefix}-Reset"]) > 0
    assert int(first.headers["RateLimit-Remaining"]) == int(second.headers["RateLimit-Remaining"]) + 1


def test_writes_have_their_own_budget(two_gateways, tenant_admin):
    api = Api(two_gateways[0], new_key(two_gateways[0], tenant_admin))
    statuses = [api.post("/v1/contacts", json={"givenName": f"W{n}"}).status_code for n in range(6)]
    assert statuses == [200] * 4 + [429] * 2
    assert api.get("/v1/contacts").status_code == 200, "reads are counted apart from writes"


def test_a_tenant_budget_caps_all_its_credentials_together(two_gateways, partner):
    admin = partner.create_tenant("Busy")["apiKey"]
    keys = [new_key(two_gateways[0], admin) for _ in range(3)]
    admitted = 0
    for key, base in zip(keys, itertools.cycle(two_gateways)):
        admitted += sum(Api(base, key).get("/v1/contacts").status_code == 200 for _ in range(10))
    assert admitted == 20, "the tenant may make twice one credential's reads"


def test_a_key_revoked_through_one_gateway_is_refused_by_both_at_once(two_gateways, tenant_admin, partner):
    """Each gateway caches the keys it verified (docs/adr/0030); a revocation is broadcast."""
    key = new_key(two_gateways[0], tenant_admin)
    readers = [Api(base, key) for base in two_gateways]
    assert [reader.get("/v1/contacts").status_code for reader in readers] == [200, 200]
    key_id = next(
        k["id"] for k in Api(two_gateways[0], tenant_admin).get("/v1/apiKeys").json()["apiKeys"] if k["prefix"] in key
    )
    # Revoked behind the gateways' backs (no broadcast): both still trust their cached copy, which
    # shows that what follows is the broadcast's doing, not a database read.
    with sa.create_engine(partner.gateway_db).begin() as connection:
        connection.execute(sa.text("UPDATE api_keys SET revoke_time = now() WHERE id = :id"), {"id": key_id})
    assert [reader.get("/v1/contacts").status_code for reader in readers] == [200, 200]

    revoked = Api(two_gateways[1], tenant_admin).post(f"/v1/apiKeys/{key_id}:revoke", json={})
    assert revoked.status_code == 200, revoked.text
    assert [reader.get("/v1/contacts").status_code for reader in readers] == [401, 401]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_anonymous_budget(partner, tenant_admin):
    """With CRM_TRUSTED_PROXY_HOPS=1 the client's address comes from X-Forwarded-For, so one
    flooding visitor does not lock out the others; without it the header is not believed."""
    proxied = partner.start_gateway("proxied", {"CRM_TRUSTED_PROXY_HOPS": "1", "CRM_PUBLIC_RATE_LIMIT": "3/3600"})
    direct = partner.start_gateway("direct", {"CRM_PUBLIC_RATE_LIMIT": "3/3600"})
    try:
        form = Api(proxied, tenant_admin).post("/v1/webForms", json={"name": "Proxied"}).json()
        path = f"/v1/webForms/{form['publicKey']}:submit"

        def submit(base: str, address: str) -> int:
            answer = Api(base, None).post(
                path, json={"fields": {"company": "Co"}}, headers={"X-Forwarded-For": address}
            )
            return answer.status_code

        assert [submit(proxied, "203.0.113.7") for _ in range(4)] == [200, 200, 200, 429]
        assert submit(proxied, "198.51.100.9") == 200  # another visitor behind the same proxy
        # Not trusted: a caller changing the header is still the same address, and still limited.
        assert [submit(direct, f"192.0.2.{n}") for n in range(4)] == [200, 200, 200, 429]
    finally:
        partner.stop("proxied")
        partner.stop("direct")
