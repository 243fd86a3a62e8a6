"""Tenants and API keys: bootstrap from the command line, authenticate every request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from crmkit.db import Database, utcnow
from crmkit.errors import Unauthenticated, Validator
from crmkit.ids import new_id
from crmkit.tokens import ADMIN_SCOPE, Principal
from gateway import keys
from gateway.store import ApiKeyRow, TenantRow

# Writing last_use_time on every request would turn each read into a write; once a minute is enough.
LAST_USE_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: str
    api_key: str
    key_id: str


class Tenancy:
    def __init__(self, database: Database) -> None:
        self.database = database

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
            created = self._add_key(session, tenant_id, "bootstrap admin key", [ADMIN_SCOPE])
        return CreatedTenant(tenant_id, created[1], created[0])

    def _add_key(self, session: sa.orm.Session, tenant_id: str, name: str, scopes: list[str]) -> tuple[str, str]:
        new = keys.generate()
        key_id = new_id()
        session.add(
            ApiKeyRow(
                id=key_id,
                tenant_id=tenant_id,
                prefix=new.prefix,
                key_hash=new.key_hash,
                name=name,
                scopes=scopes,
                create_time=utcnow(),
            )
        )
        return key_id, new.secret_key

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
            return Principal(tenant_id=row.tenant_id, subject=f"apikey:{row.id}", scopes=frozenset(row.scopes))
