"""accounts, contact-account associations, custom-field definitions, free-text search columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("employee_count", sa.Integer(), nullable=False),
        sa.Column("address", JSONType, nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("custom_fields", JSONType, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
    )
    op.create_index("ix_accounts_tenant_id_id", "accounts", ["tenant_id", "id"])
    op.create_index(
        "ux_accounts_tenant_id_external_id",
        "accounts",
        ["tenant_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id <> ''"),
        sqlite_where=sa.text("external_id <> ''"),
    )
    op.create_table(
        "contact_account_associations",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contact_id", "account_id", name="pk_contact_account_associations"),
    )
    op.create_index(
        "ix_contact_account_associations_tenant_id_account_id",
        "contact_account_associations",
        ["tenant_id", "account_id"],
    )
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("object_type", sa.String(20), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("options", JSONType, nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_custom_field_definitions"),
        sa.UniqueConstraint("tenant_id", "object_type", "key", name="uq_custom_field_definitions_tenant_type_key"),
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE contacts SET search_text = lower(given_name || ' ' || family_name || ' ' || email || ' ' || phone)"
    )
    # account_ids so far were free ids on the contact: each becomes an unlabelled association.
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, tenant_id, account_ids FROM contacts")).all()
    associations = sa.table(
        "contact_account_associations",
        sa.column("tenant_id"),
        sa.column("contact_id"),
        sa.column("account_id"),
        sa.column("position"),
        sa.column("label"),
        sa.column("is_primary"),
    )
    for contact_id, tenant_id, account_ids in rows:
        ids = json.loads(account_ids) if isinstance(account_ids, str) else account_ids
        if ids:
            op.bulk_insert(
                associations,
                [
                    {
                        "tenant_id": tenant_id,
                        "contact_id": contact_id,
                        "account_id": account_id,
                        "position": position,
                        "label": "",
                        "is_primary": False,
                    }
                    for position, account_id in enumerate(dict.fromkeys(ids))
                ],
            )
    if postgresql:  # free text `q`: trigram indexes serve LIKE '%word%' (docs/adr/0032)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)")
        op.execute("CREATE INDEX ix_accounts_search_trgm ON accounts USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_contacts_search_trgm")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("search_text")
    op.drop_table("custom_field_definitions")
    op.drop_table("contact_account_associations")
    op.drop_table("accounts")
