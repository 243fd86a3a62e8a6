"""Credentials partners and users hold: API keys managed through the admin API, OAuth2 client
credentials with signed, rotating access tokens, and user tokens from an external OIDC provider."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.support import Api


def test_api_keys_are_created_listed_by_prefix_and_last_use_and_revoked(partner, acme_api):
    created = acme_api.post("/v1/apiKeys", json={"displayName": "CI export", "scopes": ["contacts:read"]})
    assert created.status_code == 200, created.text
    secret, key = created.json()["secret"], created.json()["apiKey"]
    assert secret.startswith(f"crm_{key['prefix']}_") and key["scopes"] == ["contacts:read"]

    reader = Api(partner.base, secret)
    assert reader.get("/v1/contacts").status_code == 200
    assert reader.post("/v1/contacts", json={"givenName": "X"}).status_code == 403

    listing = acme_api.get("/v1/apiKeys")
    assert listing.status_code == 200
    listed = {k["id"]: k for k in listing.json()["apiKeys"]}
    assert listed[key["id"]]["prefix"] == key["prefix"] and listed[key["id"]]["lastUseTime"]
    text = listing.text
    assert secret not in text and "Hash" not in text and "hash" not in text
    with sa.create_engine(partner.gateway_db).connect() as connection:
        stored = connection.execute(sa.text("SELECT key_hash FROM api_keys WHERE id = :id"), {"id": key["id"]}).scalar()
    assert stored not in text

    revoked = acme_api.post(f"/v1/apiKeys/{key['id']}:revoke", json={})
    assert revoked.status_code == 200 and revoked.json()["revokeTime"]
    assert reader.get("/v1/contacts").status_code == 401


def test_new_keys_are_validated_field_by_field(acme_api):
    response = acme_api.post("/v1/apiKeys", json={"displayName": "", "roles": ["wizard"], "scopes": ["x:y"]})
    assert response.status_code == 400
    assert {d["field"] for d in response.json()["error"]["details"]} == {
        "apiKey.displayName",
        "apiKey.roles[0]",
        "apiKey.scopes[0]",
    }


def test_only_admins_manage_credentials(partner, acme_api):
    rep = acme_api.post("/v1/apiKeys", json={"displayName": "rep", "roles": ["sales_manager"]}).json()["secret"]
    for response in (
        Api(partner.base, rep).get("/v1/apiKeys"),
        Api(partner.base, rep).post("/v1/apiKeys", json={"displayName": "mine", "roles": ["admin"]}),
        Api(partner.base, rep).get("/v1/oauthClients"),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_another_tenants_key_cannot_be_revoked(partner, acme_api):
    other = Api(partner.base, partner.create_tenant("Initech")["apiKey"])
    victim = acme_api.post("/v1/apiKeys", json={"displayName": "v", "roles": ["partner"]}).json()["apiKey"]
    assert other.post(f"/v1/apiKeys/{victim['id']}:revoke", json={}).status_code == 404
    assert victim["id"] not in {k["id"] for k in other.get("/v1/apiKeys").json()["apiKeys"]}


@pytest.fixture(scope="module")
def oauth_client(acme_api):
    created = acme_api.post("/v1/oauthClients", json={"displayName": "ERP sync", "roles": ["partner"]})
    assert created.status_code == 200, created.text
    return created.json()


def token_request(partner, data, auth=None, **kwargs) -> requests.Response:
    return requests.post(partner.base + "/oauth/token", data=data, auth=auth, timeout=10, **kwargs)


def test_client_credentials_grant_issues_a_signed_token_that_the_jwks_verifies(partner, oauth_client):
    client_id, secret = oauth_client["oauthClient"]["clientId"], oauth_client["clientSecret"]
    response = token_request(partner, {"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert set(body["scope"].split()) == {"contacts:read", "contacts:write", "sales:read"} | {
        "integrations:read",
        "integrations:write",
    }
    assert response.headers["Cache-Control"] == "no-store"

    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"]
    jwks = requests.get(partner.base + "/.well-known/jwks.json", timeout=5).json()
    assert all("d" not in key for key in jwks["keys"]), "only public keys are published"
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(body["access_token"], key, algorithms=["EdDSA"], audience="crm-api", issuer="https://crm.test")
    assert claims["client_id"] == client_id

    api = Api(partner.base, body["access_token"])
    created = api.post("/v1/contacts", json={"givenName": "Via OAuth"})
    assert created.status_code == 200, created.text
    assert api.get("/v1/apiKeys").status_code == 403

    narrow = token_request(
        partner, {"grant_type": "client_credentials", "scope": "contacts:read"}, auth=(client_id, secret)
    )
    assert narrow.json()["scope"] == "contacts:read"
    assert Api(partner.base, narrow.json()["access_token"]).post("/v1/contacts", json={}).status_code == 403


def test_client_credentials_in_the_form_body_work_too(partner, oauth_client):
    response = token_request(
        partner,
        {
            "grant_type": "client_credentials",
            "client_id": oauth_client["oauthClient"]["clientId"],
            "client_secret": oauth_client["clientSecret"],
        },
    )
    assert response.status_code == 200, response.text


def test_the_token_endpoint_answers_errors_as_rfc_6749_says(partner, oauth_client):
    client_id, secret = oauth_client["oauthClient"]["clientId"], oauth_client["clientSecret"]
    wrong = token_request(partner, {"grant_type": "client_credentials"}, auth=(client_id, secret + "x"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    unknown = token_request(partner, {"grant_type": "client_credentials"}, auth=("crmc_nobody", secret))
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    grant = token_request(partner, {"grant_type": "password"}, auth=(client_id, secret))
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    missing = token_request(partner, {}, auth=(client_id, secret))
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    scope = token_request(partner, {"grant_type": "client_credentials", "scope": "admin"}, auth=(client_id, secret))
    assert (scope.status_code, scope.json()["error"]) == (400, "invalid_scope")
    as_json = requests.post(
        partner.base + "/oauth/token", json={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=5
    )
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


def test_a_revoked_client_gets_no_token_and_its_tokens_stop_working(partner, acme_api):
    created = acme_api.post("/v1/oauthClients", json={"displayName": "short-lived", "scopes": ["contacts:read"]}).json()
    auth = (created["oauthClient"]["clientId"], created["clientSecret"])
    token = token_request(partner, {"grant_type": "client_credentials"}, auth=auth).json()["access_token"]
    assert Api(partner.base, token).get("/v1/contacts").status_code == 200
    listed = acme_api.get("/v1/oauthClients").json()["oauthClients"]
    assert created["clientSecret"] not in json.dumps(listed)
    assert acme_api.post(f"/v1/oauthClients/{created['oauthClient']['id']}:revoke", json={}).status_code == 200
    assert Api(partner.base, token).get("/v1/contacts").status_code == 401
    again = token_request(partner, {"grant_type": "client_credentials"}, auth=auth)
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")


def test_a_rotated_key_signs_new_tokens_while_the_old_one_verifies_until_retired(partner, oauth_client):
    auth = (oauth_client["oauthClient"]["clientId"], oauth_client["clientSecret"])
    old_token = token_request(partner, {"grant_type": "client_credentials"}, auth=auth).json()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_kid = json.loads(partner.crm("keys", "rotate").stdout)["kid"]
    kids = {k["kid"] for k in requests.get(partner.base + "/.well-known/jwks.json", timeout=5).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    new_token = token_request(partner, {"grant_type": "client_credentials"}, auth=auth).json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert Api(partner.base, old_token).get("/v1/contacts").status_code == 200

    partner.crm("keys", "retire", old_kid)
    assert Api(partner.base, old_token).get("/v1/contacts").status_code == 401
    assert Api(partner.base, new_token).get("/v1/contacts").status_code == 200
    kids = {k["kid"] for k in requests.get(partner.base + "/.well-known/jwks.json", timeout=5).json()["keys"]}
    assert old_kid not in kids


# --- user tokens from the external OpenID Connect provider ------------------------------------


def test_a_user_token_from_the_configured_provider_is_accepted_with_its_roles(partner, acme, identity_provider):
    token = identity_provider.token(identity_provider.claims(acme["tenantId"], ["marketer"]))
    api = Api(partner.base, token)
    assert api.get("/v1/contacts").status_code == 200
    assert api.get("/v1/audienceMembers").status_code == 200
    assert api.post("/v1/contacts", json={"givenName": "No"}).status_code == 403, "marketers read contacts only"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def bad_tokens(idp, tenant_id: str) -> dict[str, str]:
    now = int(time.time())
    good = idp.token(idp.claims(tenant_id, ["admin"]))
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": idp.token(idp.claims(tenant_id, ["admin"], iat=now - 600, nbf=now - 600, exp=now - 300)),
        "not yet valid": idp.token(idp.claims(tenant_id, ["admin"], nbf=now + 600, exp=now + 900)),
        "wrong audience": idp.token(idp.claims(tenant_id, ["admin"], aud="someone-else")),
        "wrong issuer": idp.token(idp.claims(tenant_id, ["admin"], iss="https://evil.example")),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': idp.kid})}.{payload}.",
        "tampered": f"{header}.{_b64({**claims, 'tid': 'someone-else', 'roles': ['admin']})}.{signature}",
        "foreign key": idp.token(idp.claims(tenant_id, ["admin"]), key=other_key),
        "unknown kid": idp.token(idp.claims(tenant_id, ["admin"]), kid="nobody"),
        "unknown tenant": idp.token(idp.claims("01NOSUCHTENANT0000000000000", ["admin"])),
        "no expiry": idp.token(idp.claims(tenant_id, ["admin"], exp=None)),
        "hs256 with the public key": jwt.encode(
            claims, "not-a-secret-" * 4, algorithm="HS256", headers={"kid": idp.kid}
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not yet valid",
        "wrong audience",
        "wrong issuer",
        "alg none",
        "tampered",
        "foreign key",
        "unknown kid",
        "unknown tenant",
        "no expiry",
        "hs256 with the public key",
    ],
)
def test_bad_user_tokens_are_401(partner, acme, identity_provider, case):
    token = bad_tokens(identity_provider, acme["tenantId"])[case]
    response = Api(partner.base, token).get("/v1/contacts")
    assert response.status_code == 401, f"{case}: {response.text}"
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("case", ["expired", "alg none", "tampered", "wrong audience"])
def test_bad_access_tokens_of_our_own_are_401(partner, oauth_client, case):
    auth = (oauth_client["oauthClient"]["clientId"], oauth_client["clientSecret"])
    token = token_request(partner, {"grant_type": "client_credentials"}, auth=auth).json()["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = {
        "expired": f"{header}.{_b64({**claims, 'exp': int(time.time()) - 60})}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'kid': jwt.get_unverified_header(token)['kid']})}.{payload}.",
        "tampered": f"{header}.{_b64({**claims, 'scope': 'admin'})}.{signature}",
        "wrong audience": f"{header}.{_b64({**claims, 'aud': 'crm-internal'})}.{signature}",
    }[case]
    assert Api(partner.base, forged).get("/v1/contacts").status_code == 401
