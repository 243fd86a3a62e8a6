"""Short-lived internal tokens: the gateway authenticates the caller, then names the tenant,
principal and scopes in a signed JWT that every service verifies (DESIGN.md, "trust")."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass

import jwt

from crmkit.errors import Unauthenticated

ISSUER = "crm-gateway"
AUDIENCE = "crm-internal"
ALGORITHM = "HS256"
ADMIN_SCOPE = "admin"
# Principals whose last internal token InternalTokens.reused() keeps.
MAX_REUSED_PRINCIPALS = 10_000


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str
    scopes: frozenset[str]
    # True when the caller may see and change only records it owns (owner_id == subject); the
    # gateway sets it from the caller's roles, services must filter by it (docs/adr/0013).
    own_records_only: bool = False

    def has_scope(self, scope: str) -> bool:
        return not self.is_anonymous and (ADMIN_SCOPE in self.scopes or scope in self.scopes)

    @property
    def is_anonymous(self) -> bool:
        """A caller without credentials, of a public method (crm.common.v1.public): no tenant."""
        return not self.tenant_id

    @classmethod
    def anonymous(cls, client: str) -> Principal:
        return cls(tenant_id="", subject=f"anonymous:{client}", scopes=frozenset())


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("crm_principal", default=None)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("no principal in this context")
    return principal


def bind_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def unbind_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


# The verified internal token of the call being served, so that calls this service makes on the
# caller's behalf carry the caller's identity (grpcclient.service_channel forwards it).
_caller_token: contextvars.ContextVar[str] = contextvars.ContextVar("crm_caller_token", default="")


def bind_caller_token(token: str) -> contextvars.Token[str]:
    return _caller_token.set(token)


def unbind_caller_token(bound: contextvars.Token[str]) -> None:
    _caller_token.reset(bound)


def caller_token() -> str:
    token = _caller_token.get()
    if not token:
        raise Unauthenticated("no caller identity to act for: serve a call, or use acting_as()")
    return token


@contextlib.contextmanager
def acting_as(tokens: InternalTokens, principal: Principal) -> Iterator[None]:
    """Background work (a consumer, a scheduler) acting for one tenant: calls it makes carry this identity."""
    bound_principal, bound_token = bind_principal(principal), bind_caller_token(tokens.mint(principal))
    try:
        yield
    finally:
        unbind_caller_token(bound_token)
        unbind_principal(bound_principal)


class InternalTokens:
    def __init__(self, secret: str, ttl_seconds: int = 60, leeway_seconds: int = 5) -> None:
        if len(secret) < 32:
            raise ValueError("the internal token secret must be at least 32 characters")
        self._secret = secret
        self._ttl = ttl_seconds
        self._leeway = leeway_seconds
        # principal -> (token, its expiry): see reused().
        self._minted: dict[Principal, tuple[str, float]] = {}

    def mint(self, principal: Principal, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.subject,
            "tid": principal.tenant_id,
            "scope": " ".join(sorted(principal.scopes)),
            "own": principal.own_records_only,
            "anon": principal.is_anonymous,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self._ttl,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def reused(self, principal: Principal, outlives_seconds: float = 0.0) -> str:
        """A token for `principal`, minted again once half its lifetime is gone, or sooner when it
        would not outlive `outlives_seconds` (the deadline of the call it is for): a gateway serving
        one caller signs a JWT every ttl/2 seconds instead of on every call (docs/adr/0080). A call
        whose deadline is longer than that gets a fresh token, as before. The credential behind the
        principal is checked on each call before this is reached, so reuse outlives no revocation."""
        now = time.time()
        found = self._minted.get(principal)
        if found is not None and found[1] - now > max(self._ttl / 2, outlives_seconds):
            return found[0]
        token = self.mint(principal, now)
        if len(self._minted) >= MAX_REUSED_PRINCIPALS:
            self._minted.clear()  # many callers at once: start over rather than grow
        self._minted[principal] = (token, int(now) + self._ttl)
        return token

    def verify(self, token: str) -> Principal:
        if not token:
            raise Unauthenticated("missing internal token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "nbf", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid internal token: {exc}") from None
        tenant = claims.get("tid")
        anonymous = claims.get("anon") is True
        if not isinstance(tenant, str) or (not tenant and not anonymous) or (tenant and anonymous):
            raise Unauthenticated("invalid internal token: no tenant")
        return Principal(
            tenant_id=tenant,
            subject=claims["sub"],
            scopes=frozenset() if anonymous else frozenset(claims.get("scope", "").split()),
            own_records_only=claims.get("own") is True,
        )
