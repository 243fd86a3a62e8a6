"""OAuth2 client credentials (RFC 6749 §4.4) and the access tokens the gateway signs for them.

Tokens are JWTs signed with Ed25519 (`EdDSA`), `kid` in the header; the public keys are served at
`/.well-known/jwks.json`. Keys live in the gateway database so that every gateway process signs
and verifies with the same set; `crm keys rotate` adds a key that signs from then on, and the
old one verifies until `crm keys retire` (docs/adr/0010).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from crmkit import pagination
from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, NotFound, Unauthenticated
from crmkit.ids import new_id
from crmkit.tokens import Principal
from gateway.store import OAuthClientRow, SigningKeyRow
from gateway.tenancy import Grants, principal_for

ALGORITHM = "EdDSA"
AUDIENCE = "crm-api"
CLIENT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey
    jwk: dict[str, str]
    retired: bool


class SigningKeys:
    """The key set, shared by every gateway through the database and cached for a short while."""

    def __init__(self, database: Database, passphrase: str = "", refresh_seconds: float = 30.0) -> None:
        self.database = database
        self.refresh_seconds = refresh_seconds
        self.passphrase = passphrase.encode() or None
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []
        self._loaded = 0.0

    def rotate(self) -> str:
        """Add a new key; it signs from now on. Returns its kid."""
        private = Ed25519PrivateKey.generate()
        kid = f"{time.strftime('%Y%m%d', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self.passphrase) if self.passphrase else serialization.NoEncryption()
        )
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        jwk = {**json.loads(OKPAlgorithm.to_jwk(private.public_key())), "kid": kid, "use": "sig", "alg": ALGORITHM}
        with self.database.transaction() as session:
            session.add(
                SigningKeyRow(
                    kid=kid, algorithm=ALGORITHM, private_key=pem.decode(), public_jwk=jwk, create_time=utcnow()
                )
            )
        self._loaded = 0.0
        return kid

    def retire(self, kid: str) -> None:
        """Stop publishing and accepting a key: tokens it signed are refused from now on."""
        with self.database.transaction() as session:
            row = session.get(SigningKeyRow, kid)
            if row is None:
                raise NotFound.resource("signing key", kid)
            active = session.scalars(sa.select(SigningKeyRow).where(SigningKeyRow.retire_time.is_(None))).all()
            if row.retire_time is None and len(active) == 1:
                raise FailedPrecondition(f"{kid} is the only active key: rotate first")
            row.retire_time = row.retire_time or utcnow()
        self._loaded = 0.0

    def ensure(self) -> None:
        """A first key, so that a fresh install can issue tokens."""
        if not self.active():
            self.rotate()

    def listed(self) -> list[dict[str, Any]]:
        with self.database.transaction() as session:
            rows = session.scalars(sa.select(SigningKeyRow).order_by(SigningKeyRow.create_time)).all()
            return [
                {"kid": r.kid, "createTime": r.create_time.isoformat(), "retired": r.retire_time is not None}
                for r in rows
            ]

    def active(self, refresh: bool = False) -> list[SigningKey]:
        with self._lock:
            if refresh or time.monotonic() - self._loaded >= self.refresh_seconds:
                self._keys = self._load()
                self._loaded = time.monotonic()
            return [k for k in self._keys if not k.retired]

    def _load(self) -> list[SigningKey]:
        with self.database.transaction() as session:
            rows = session.scalars(sa.select(SigningKeyRow).order_by(SigningKeyRow.create_time.desc())).all()
        loaded = []
        for row in rows:
            public = OKPAlgorithm.from_jwk(json.dumps(row.public_jwk))
            private = None
            if row.retire_time is None:
                key = serialization.load_pem_private_key(row.private_key.encode(), self.passphrase)
                private = key if isinstance(key, Ed25519PrivateKey) else None
            if isinstance(public, Ed25519PublicKey):
                loaded.append(SigningKey(row.kid, private, public, row.public_jwk, row.retire_time is not None))
        return loaded

    def signer(self) -> tuple[str, Ed25519PrivateKey]:
        for key in self.active():
            if key.private is not None:
                return key.kid, key.private
        raise FailedPrecondition("no signing key: run `crm keys rotate`")

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        for refresh in (False, True):  # a kid we have not seen may be a rotation by another gateway
            for key in self.active(refresh=refresh):
                if key.kid == kid:
                    return key.public
        return None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk for key in self.active()]}


class AccessTokens:
    def __init__(self, keys: SigningKeys, issuer: str, ttl_seconds: int, leeway_seconds: int = 5) -> None:
        self.keys, self.issuer, self.ttl, self.leeway = keys, issuer, ttl_seconds, leeway_seconds

    def issue(self, client: OAuthClientRow, scopes: frozenset[str]) -> str:
        kid, private = self.keys.signer()
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": f"client:{client.id}",
            "client_id": client.client_id,
            "tid": client.tenant_id,
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token we issued; anything else is Unauthenticated."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the access token is malformed") from None
        public = self.keys.public_key(str(header.get("kid", "")))
        if public is None:
            raise Unauthenticated("the access token is signed with an unknown or retired key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                public,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "nbf", "sub", "aud", "iss", "tid"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}") from None
        return claims


class OAuthClients:
    def __init__(self, database: Database, tokens: AccessTokens, revoked: Callable[..., None] | None = None) -> None:
        self.database, self.tokens = database, tokens
        # Told the tags of a client once its revocation committed (gateway/credcache.py).
        self.revoked = revoked or (lambda *_tags: None)

    def create(self, tenant_id: str, grants: Grants) -> tuple[OAuthClientRow, str]:
        client_id = "crmc_" + "".join(secrets.choice(CLIENT_ALPHABET) for _ in range(20))
        secret = secrets.token_urlsafe(32)
        row = OAuthClientRow(
            id=new_id(),
            tenant_id=tenant_id,
            client_id=client_id,
            secret_hash=_hash(secret),
            name=grants.name,
            roles=grants.roles,
            scopes=grants.scopes,
            create_time=utcnow(),
        )
        with self.database.transaction() as session:
            session.add(row)
        return row, secret

    def list(self, tenant_id: str, size: int, token: str) -> tuple[list[OAuthClientRow], str]:
        scope = f"oauthClients:{tenant_id}"
        after = pagination.decode_cursor(token, scope)
        size = pagination.page_size(size)
        query = (
            sa.select(OAuthClientRow)
            .where(OAuthClientRow.tenant_id == tenant_id)
            .order_by(OAuthClientRow.id)
            .limit(size + 1)
        )
        if after:
            query = query.where(OAuthClientRow.id > after)
        with self.database.transaction() as session:
            rows = list(session.scalars(query))
        return pagination.page_of(rows, size, lambda r: r.id, scope)

    def revoke(self, tenant_id: str, row_id: str) -> OAuthClientRow:
        with self.database.transaction() as session:
            row = session.get(OAuthClientRow, row_id)
            if row is None or row.tenant_id != tenant_id:
                raise NotFound.resource("OAuth client", row_id)
            row.revoke_time = row.revoke_time or utcnow()
        self.revoked(f"client:{row.id}")
        return row

    def grant(self, client_id: str, client_secret: str, requested: str | None) -> tuple[str, frozenset[str]]:
        """The client-credentials grant: an access token and the scopes it carries."""
        with self.database.transaction() as session:
            row = session.scalars(sa.select(OAuthClientRow).where(OAuthClientRow.client_id == client_id)).first()
            # The hash is compared even for an unknown client, so timing does not tell which it was.
            stored = row.secret_hash if row is not None else _hash(secrets.token_hex(16))
            if not hmac.compare_digest(_hash(client_secret), stored) or row is None or row.revoke_time is not None:
                raise OAuthError("invalid_client", "client authentication failed", 401)
            row.last_use_time = utcnow()
            allowed = principal_for(row.tenant_id, "", list(row.roles), list(row.scopes)).scopes
            scopes = allowed if requested is None else frozenset(requested.split())
            if not scopes or not scopes <= allowed:
                raise OAuthError("invalid_scope", "the requested scope exceeds what this client was granted")
            return self.tokens.issue(row, scopes), scopes

    def authenticate(self, token: str) -> Principal:
        claims = self.tokens.verify(token)
        row_id = str(claims["sub"]).removeprefix("client:")
        with self.database.transaction() as session:
            row = session.get(OAuthClientRow, row_id)
            if row is None or row.revoke_time is not None or row.tenant_id != claims["tid"]:
                raise Unauthenticated("the OAuth client of this token is revoked")
            granted = principal_for(row.tenant_id, claims["sub"], list(row.roles), list(row.scopes))
        # The token's scopes, never more than the client holds now.
        scopes = frozenset(str(claims.get("scope", "")).split()) & granted.scopes
        return Principal(row.tenant_id, claims["sub"], scopes, granted.own_records_only)
