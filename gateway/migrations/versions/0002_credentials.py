"""roles on API keys, OAuth clients, token signing keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("roles", JSONType, nullable=False, server_default="[]"))
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", JSONType, nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("last_use_time", UTCDateTime(), nullable=True),
        sa.Column("revoke_time", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_oauth_clients_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_clients"),
        sa.UniqueConstraint("client_id", name="uq_oauth_clients_client_id"),
    )
    op.create_index("ix_oauth_clients_tenant_id", "oauth_clients", ["tenant_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_jwk", JSONType, nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("retire_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("oauth_clients")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("roles")
