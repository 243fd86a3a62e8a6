"""Who is calling: an API key, an access token we issued, or a user token from the OIDC provider.

What was verified is kept in the process for a short while (gateway/credcache.py, docs/adr/0030):
each cached principal is tagged with what can revoke it, and revocations are broadcast.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from crmkit import metrics
from crmkit.errors import Unauthenticated
from crmkit.tokens import Principal
from gateway.credcache import CredentialCache
from gateway.oauth import OAuthClients
from gateway.oidc import UserTokens
from gateway.tenancy import Tenancy


def tenant_tag(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def signing_key_tag(kid: str) -> str:
    return f"kid:{kid}"


class Authenticator:
    def __init__(
        self,
        tenancy: Tenancy,
        clients: OAuthClients,
        users: UserTokens | None,
        issuer: str,
        cache: CredentialCache | None = None,
    ) -> None:
        self.tenancy, self.clients, self.users, self.issuer = tenancy, clients, users, issuer
        self.cache = cache if cache is not None else CredentialCache(0)

    def authenticate(self, credential: str) -> Principal:
        cached = self.cache.get(credential)
        if cached is not None:
            metrics.CREDENTIAL_CACHE.labels("hit").inc()
            return cached
        metrics.CREDENTIAL_CACHE.labels("miss").inc()
        generation = self.cache.generation()
        principal, tags, valid_seconds = self._verify(credential)
        # The subject (apikey:<id>, client:<id>, user:<sub>) and the tenant revoke any credential.
        tags = [principal.subject, tenant_tag(principal.tenant_id), *tags]
        self.cache.put(credential, principal, tags, generation, valid_seconds)
        return principal

    def _verify(self, credential: str) -> tuple[Principal, list[str], float | None]:
        if credential.startswith("crm_"):
            return self.tenancy.authenticate(credential), [], None
        if credential.count(".") != 2:
            raise Unauthenticated("the credential is neither an API key nor a token")
        try:
            # Only to pick the verifier: nothing of it is trusted until the signature is checked.
            claims: dict[str, Any] = jwt.decode(credential, options={"verify_signature": False})
            header = jwt.get_unverified_header(credential)
        except jwt.PyJWTError:
            raise Unauthenticated("the token is malformed") from None
        issuer = claims.get("iss")
        if issuer == self.issuer:
            principal = self.clients.authenticate(credential)
            tags = [signing_key_tag(str(header.get("kid", "")))]
        elif self.users is not None and issuer == self.users.issuer:
            principal, tags = self.users.authenticate(credential), []
        else:
            raise Unauthenticated("the token is from an issuer this gateway does not trust")
        # Verified, so `exp` is there and trusted: the cache never keeps a token past it.
        return principal, tags, float(claims["exp"]) - time.time()
