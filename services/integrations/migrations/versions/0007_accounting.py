"""accounting (QuickBooks Online, Xero): invoices and payments kept as records, the CRM's writes
queued for the vendors, and the sync requests signed vendor webhooks leave (docs/adr/0059, 0060)

Revision ID: 0005_accounting
Revises: 0004_external_id_synced
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0007_accounting"
down_revision: str | None = "0006_external_id_synced"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounting_invoices",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("external_system", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("invoice_number", sa.String(length=64), nullable=False),
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_invoices")),
        sa.UniqueConstraint("connection_id", "source_key", name="uq_accounting_invoices_connection_id_source_key"),
    )
    with op.batch_alter_table("accounting_invoices", schema=None) as batch_op:
        batch_op.create_index("ix_accounting_invoices_tenant_id_contact_id", ["tenant_id", "contact_id"], unique=False)

    op.create_table(
        "accounting_payments",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("invoice_id", sa.String(length=26), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_time", UTCDateTime(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_payments")),
        sa.UniqueConstraint("connection_id", "external_id", name="uq_accounting_payments_connection_id_external_id"),
    )
    with op.batch_alter_table("accounting_payments", schema=None) as batch_op:
        batch_op.create_index("ix_accounting_payments_tenant_id_contact_id", ["tenant_id", "contact_id"], unique=False)

    op.create_table(
        "accounting_pushes",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_time", UTCDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_pushes")),
        sa.UniqueConstraint("connection_id", "kind", "key", name="uq_accounting_pushes_connection_id_kind_key"),
    )
    with op.batch_alter_table("accounting_pushes", schema=None) as batch_op:
        batch_op.create_index("ix_accounting_pushes_next_attempt_time", ["next_attempt_time"], unique=False)

    op.create_table(
        "sync_requests",
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("request_time", UTCDateTime(), nullable=False),
        sa.Column("notification_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_sync_requests")),
    )


def downgrade() -> None:
    op.drop_table("sync_requests")
    with op.batch_alter_table("accounting_pushes", schema=None) as batch_op:
        batch_op.drop_index("ix_accounting_pushes_next_attempt_time")
    op.drop_table("accounting_pushes")
    with op.batch_alter_table("accounting_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_accounting_payments_tenant_id_contact_id")
    op.drop_table("accounting_payments")
    with op.batch_alter_table("accounting_invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_accounting_invoices_tenant_id_contact_id")
    op.drop_table("accounting_invoices")
