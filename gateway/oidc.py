"""User tokens from an external OpenID Connect provider (Keycloak, Entra ID, Auth0, ...).

Accepted when signed by a key of the configured JWKS with an allowed asymmetric algorithm, issued
by the configured issuer for the configured audience, in their validity window, and naming a
tenant of ours; the user's roles become scopes (gateway/roles.py).
"""

from __future__ import annotations

from typing import Any

import jwt

from crmkit.errors import ServiceError, Unauthenticated
from crmkit.tokens import Principal
from gateway import roles
from gateway.tenancy import Tenancy, principal_for


class IdentityProviderUnavailable(ServiceError):
    grpc_code = "UNAVAILABLE"


class UserTokens:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        algorithms: tuple[str, ...],
        tenant_claim: str,
        roles_claim: str,
        tenancy: Tenancy,
        leeway_seconds: int = 30,
    ) -> None:
        self.issuer, self.audience, self.algorithms = issuer, audience, list(algorithms)
        self.tenant_claim, self.roles_claim = tenant_claim, roles_claim
        self.tenancy, self.leeway = tenancy, leeway_seconds
        # PyJWKClient caches the key set and fetches it again when a token names an unknown kid.
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def authenticate(self, token: str) -> Principal:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise IdentityProviderUnavailable("the identity provider's keys cannot be fetched; retry shortly") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the user token cannot be verified: {exc}") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the user token is not valid: {exc}") from None
        tenant_id = claims.get(self.tenant_claim)
        if not isinstance(tenant_id, str) or not self.tenancy.tenant_exists(tenant_id):
            raise Unauthenticated("the user token names no tenant of this installation")
        held = claims.get(self.roles_claim) or []
        held = [r for r in held if r in roles.ROLES] if isinstance(held, list) else []
        return principal_for(tenant_id, f"user:{claims['sub']}", held, [])
