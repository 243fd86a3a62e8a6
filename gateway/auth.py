"""Who is calling: an API key, an access token we issued, or a user token from the OIDC provider."""

from __future__ import annotations

import jwt

from crmkit.errors import Unauthenticated
from crmkit.tokens import Principal
from gateway.oauth import OAuthClients
from gateway.oidc import UserTokens
from gateway.tenancy import Tenancy


class Authenticator:
    def __init__(self, tenancy: Tenancy, clients: OAuthClients, users: UserTokens | None, issuer: str) -> None:
        self.tenancy, self.clients, self.users, self.issuer = tenancy, clients, users, issuer

    def authenticate(self, credential: str) -> Principal:
        if credential.startswith("crm_"):
            return self.tenancy.authenticate(credential)
        if credential.count(".") != 2:
            raise Unauthenticated("the credential is neither an API key nor a token")
        try:
            # Only to pick the verifier: nothing of it is trusted until the signature is checked.
            issuer = jwt.decode(credential, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise Unauthenticated("the token is malformed") from None
        if issuer == self.issuer:
            return self.clients.authenticate(credential)
        if self.users is not None and issuer == self.users.issuer:
            return self.users.authenticate(credential)
        raise Unauthenticated("the token is from an issuer this gateway does not trust")
