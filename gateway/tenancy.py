"""Tenants and API keys: bootstrap from the command line, manage keys through the admin API,
authenticate every request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from crmkit import pagination
from crmkit.db import Database, utcnow
from crmkit.errors import NotFound, Unauthenticated, Validator
from crmkit.ids import new_id
from crmkit.tokens import Principal
from gateway import keys, roles
from gateway.store import ApiKeyRow, TenantRow

# Writing last_use_time on every request would turn each read into a write; once a minute is enough.
LAST_USE_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: str
    api_key: str
    key_id: str


@dataclass(frozen=True)
class Grants:
    """What a new credential may do, validated: roles and scopes."""

    name: str
    roles: list[str]
    scopes: list[str]

    @classmethod
    def checked(cls, name: str, role_names: list[str], scopes: list[str], prefix: str) -> Grants:
        check = Validator()
        name = name.strip()
        if not name or len(name) > 200:
            check.add(f"{prefix}displayName", "is required, 1 to 200 characters")
        check.violations += roles.check_grants(role_names, scopes, prefix)
        check.raise_if_any()
        return cls(name, sorted(set(role_names)), sorted(set(scopes)))


def principal_for(tenant_id: str, subject: str, role_names: list[str], scopes: list[str]) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        subject=subject,
        scopes=roles.scopes_for(role_names, scopes),
        own_records_only=roles.own_records_only(role_names),
    )


def _no_broadcast(*_tags: str) -> None:
    return None


class Tenancy:
    def __init__(self, database: Database, revoked: Callable[..., None] = _no_broadcast) -> None:
        self.database = database
        # Told the tags of a credential once its revocation committed (gateway/credcache.py).
        self.revoked = revoked

    def create_tenant(self, name: str) -> CreatedTenant:
        check = Validator()
        name = name.strip()
        if not name or len(name) > 200:
            check.add("name", "a tenant name has 1 to 200 characters")
        check.raise_if_any()
        tenant_id = new_id()
        with self.database.transaction() as session:
            session.add(TenantRow(id=tenant_id, name=name, create_time=utcnow()))
            session.flush()
            row, secret = self._add_key(session, tenant_id, Grants("bootstrap admin key", ["admin"], []))
        return CreatedTenant(tenant_id, secret, row.id)

    def tenant_exists(self, tenant_id: str) -> bool:
        with self.database.transaction() as session:
            return session.get(TenantRow, tenant_id) is not None

    def _add_key(self, session: sa.orm.Session, tenant_id: str, grants: Grants) -> tuple[ApiKeyRow, str]:
        new = keys.generate()
        row = ApiKeyRow(
            id=new_id(),
            tenant_id=tenant_id,
            prefix=new.prefix,
            key_hash=new.key_hash,
            name=grants.name,
            roles=grants.roles,
            scopes=grants.scopes,
            create_time=utcnow(),
        )
        session.add(row)
        return row, new.secret_key

    def create_key(self, tenant_id: str, grants: Grants) -> tuple[ApiKeyRow, str]:
        with self.database.transaction() as session:
            return self._add_key(session, tenant_id, grants)

    def list_keys(self, tenant_id: str, size: int, token: str) -> tuple[list[ApiKeyRow], str]:
        scope = f"apiKeys:{tenant_id}"
        after = pagination.decode_cursor(token, scope)
        size = pagination.page_size(size)
        query = sa.select(ApiKeyRow).where(ApiKeyRow.tenant_id == tenant_id).order_by(ApiKeyRow.id).limit(size + 1)
        if after:
            query = query.where(ApiKeyRow.id > after)
        with self.database.transaction() as session:
            rows = list(session.scalars(query))
        return pagination.page_of(rows, size, lambda r: r.id, scope)

    def revoke_key(self, tenant_id: str, key_id: str) -> ApiKeyRow:
        with self.database.transaction() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None or row.tenant_id != tenant_id:
                raise NotFound.resource("API key", key_id)
            if row.revoke_time is None:
                row.revoke_time = utcnow()
        self.revoked(f"apikey:{row.id}")
        return row

    def authenticate(self, api_key: str) -> Principal:
        prefix = keys.parse_prefix(api_key)
        if prefix is None:
            raise Unauthenticated("the API key is malformed")
        with self.database.transaction() as session:
            row = session.scalars(sa.select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).first()
            if row is None or row.revoke_time is not None or not keys.matches(api_key, row.key_hash):
                raise Unauthenticated("the API key is not valid")
            now = utcnow()
            if row.last_use_time is None or now - row.last_use_time > LAST_USE_RESOLUTION:
                row.last_use_time = now
            # Keys made before roles existed carry scopes only; `admin` among them stays admin.
            return principal_for(row.tenant_id, f"apikey:{row.id}", list(row.roles or []), list(row.scopes))
