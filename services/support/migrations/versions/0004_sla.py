"""sla

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_markers",
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("due_time", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "target", "kind", name=op.f("pk_sla_markers")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("customer_tier", sa.String(length=64), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("working_hours", JSONType, nullable=False),
        sa.Column("holidays", JSONType, nullable=False),
        sa.Column("targets", JSONType, nullable=False),
        sa.Column("warning_percent", sa.Integer(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("tenant_id", "customer_tier", name="uq_sla_policies_tenant_id_tier"),
    )
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("sla_policy_id", sa.String(length=26), server_default="", nullable=False))
        batch.add_column(sa.Column("sla_elapsed_seconds", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("sla_running_since", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("first_response_warn", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("first_response_due", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolution_warn", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolution_due", UTCDateTime(), nullable=True))
        batch.create_index("ix_tickets_first_response_due", ["first_response_due"], unique=False)
        batch.create_index("ix_tickets_first_response_warn", ["first_response_warn"], unique=False)
        batch.create_index("ix_tickets_resolution_due", ["resolution_due"], unique=False)
        batch.create_index("ix_tickets_resolution_warn", ["resolution_warn"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_resolution_warn")
        batch.drop_index("ix_tickets_resolution_due")
        batch.drop_index("ix_tickets_first_response_warn")
        batch.drop_index("ix_tickets_first_response_due")
        batch.drop_column("resolution_due")
        batch.drop_column("resolution_warn")
        batch.drop_column("first_response_due")
        batch.drop_column("first_response_warn")
        batch.drop_column("sla_running_since")
        batch.drop_column("sla_elapsed_seconds")
        batch.drop_column("sla_policy_id")
    op.drop_table("sla_policies")
    op.drop_table("sla_markers")
