"""pipelines, opportunities with stage history, products and quotes (docs/adr/0044, 0045)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_flows",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("from_stage_id", sa.String(length=64), nullable=False),
        sa.Column("to_stage_id", sa.String(length=64), nullable=False),
        sa.Column("entered", sa.BigInteger(), nullable=False),
        sa.Column("stay_seconds", sa.BigInteger(), nullable=False),
        sa.Column("stays", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "pipeline_id", "from_stage_id", "to_stage_id", name=op.f("pk_stage_flows")
        ),
    )
    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("close_month", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("close_reason", sa.Text(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("stage_enter_time", UTCDateTime(), nullable=False),
        sa.Column("closed_time", UTCDateTime(), nullable=True),
        sa.Column("create_epoch", sa.BigInteger(), nullable=False),
        sa.Column("stage_enter_epoch", sa.BigInteger(), nullable=False),
        sa.Column("closed_epoch", sa.BigInteger(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index("ix_opportunities_tenant_id_close_date", ["tenant_id", "close_date"], unique=False)
        batch_op.create_index("ix_opportunities_tenant_id_id", ["tenant_id", "id"], unique=False)
        batch_op.create_index("ix_opportunities_tenant_id_owner_id", ["tenant_id", "owner_id"], unique=False)
        batch_op.create_index("ix_opportunities_tenant_id_stage_id", ["tenant_id", "stage_id"], unique=False)
        batch_op.create_index("ix_opportunities_tenant_id_update_time", ["tenant_id", "update_time"], unique=False)

    op.create_table(
        "opportunity_stage_history",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("opportunity_id", sa.String(length=26), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("from_stage_id", sa.String(length=64), nullable=False),
        sa.Column("to_stage_id", sa.String(length=64), nullable=False),
        sa.Column("to_stage_name", sa.String(length=100), nullable=False),
        sa.Column("enter_time", UTCDateTime(), nullable=False),
        sa.Column("leave_time", UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_stage_history")),
    )
    with op.batch_alter_table("opportunity_stage_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opportunity_stage_history_tenant_id_opportunity_id", ["tenant_id", "opportunity_id"], unique=False
        )
        batch_op.create_index(
            "ix_opportunity_stage_history_tenant_id_to_stage_id", ["tenant_id", "to_stage_id"], unique=False
        )

    op.create_table(
        "pipeline_stages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("required_fields", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_stages")),
    )
    with op.batch_alter_table("pipeline_stages", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_stages_tenant_id_pipeline_id", ["tenant_id", "pipeline_id"], unique=False)

    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipelines")),
    )
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.create_index("ix_pipelines_tenant_id_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "products",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("sku_key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_percent", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("tenant_id", "sku_key", name="uq_products_tenant_id_sku_key"),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_tenant_id_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "quote_counters",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_quote_counters")),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("opportunity_id", sa.String(length=26), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("lines", JSONType, nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("grand_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint("tenant_id", "sequence", name="uq_quotes_tenant_id_sequence"),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index("ix_quotes_tenant_id_opportunity_id", ["tenant_id", "opportunity_id"], unique=False)


def downgrade() -> None:
    op.drop_table("stage_flows")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_tenant_id_opportunity_id")

    op.drop_table("quotes")
    op.drop_table("quote_counters")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_tenant_id_id")

    op.drop_table("products")
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.drop_index("ix_pipelines_tenant_id_id")

    op.drop_table("pipelines")
    with op.batch_alter_table("pipeline_stages", schema=None) as batch_op:
        batch_op.drop_index("ix_pipeline_stages_tenant_id_pipeline_id")

    op.drop_table("pipeline_stages")
    with op.batch_alter_table("opportunity_stage_history", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunity_stage_history_tenant_id_to_stage_id")
        batch_op.drop_index("ix_opportunity_stage_history_tenant_id_opportunity_id")

    op.drop_table("opportunity_stage_history")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_tenant_id_update_time")
        batch_op.drop_index("ix_opportunities_tenant_id_stage_id")
        batch_op.drop_index("ix_opportunities_tenant_id_owner_id")
        batch_op.drop_index("ix_opportunities_tenant_id_id")
        batch_op.drop_index("ix_opportunities_tenant_id_close_date")

    op.drop_table("opportunities")
