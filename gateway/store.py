"""The gateway's own tables: tenants, API keys, OAuth clients, signing keys."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(12), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_use_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoke_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")


class OAuthClientRow(Base):
    __tablename__ = "oauth_clients"

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_use_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoke_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SigningKeyRow(Base):
    """Keys that sign access tokens. The newest unretired one signs; every unretired one verifies
    and is published in the JWKS, so a rotation never breaks a token still in flight."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(sa.String(16))
    # PKCS#8 PEM, encrypted with CRM_SIGNING_KEY_PASSPHRASE when that is set.
    private_key: Mapped[str] = mapped_column(sa.Text())
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    retire_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditHeadRow(Base):
    """The newest entry of a tenant's audit chain: appending locks this row, so appends of one
    tenant take turns (across gateway processes) while other tenants' appends do not wait."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger())
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditEntryRow(Base):
    """One write through the gateway, chained to the tenant's previous entry by its hash. The
    database refuses UPDATE and DELETE on this table (triggers, migration 0003)."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "sequence"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"))
    sequence: Mapped[int] = mapped_column(sa.BigInteger())
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    request_id: Mapped[str] = mapped_column(sa.String(128))
    principal: Mapped[str] = mapped_column(sa.String(200))
    http_method: Mapped[str] = mapped_column(sa.String(10))
    operation: Mapped[str] = mapped_column(sa.String(200))
    resource_template: Mapped[str] = mapped_column(sa.String(200))
    resource_path: Mapped[str] = mapped_column(sa.String(1000))
    resource_id: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[int] = mapped_column(sa.Integer())
    previous_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
