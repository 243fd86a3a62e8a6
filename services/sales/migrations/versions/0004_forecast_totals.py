"""forecast running totals (docs/adr/0073)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The opportunities summed per (tenant, close month, owner, pipeline, currency, stage), kept by every
opportunity write so the forecast reads these rows instead of scanning the opportunities. Filled
here from the opportunities already stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of deal_store.recounted_totals: a migration must not change with the code.
BACKFILL = """
INSERT INTO forecast_totals (tenant_id, close_month, owner_id, pipeline_id, currency_code, stage_id,
                             deals, amount_minor, cycle_seconds)
SELECT tenant_id, coalesce(close_month, 0), owner_id, pipeline_id, currency_code, stage_id,
       count(*), coalesce(sum(amount_minor), 0), coalesce(sum(closed_epoch - create_epoch), 0)
FROM opportunities
GROUP BY tenant_id, coalesce(close_month, 0), owner_id, pipeline_id, currency_code, stage_id
"""


def upgrade() -> None:
    op.create_table(
        "forecast_totals",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("close_month", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline_id", sa.String(length=26), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("deals", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("cycle_seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "close_month",
            "owner_id",
            "pipeline_id",
            "currency_code",
            "stage_id",
            name=op.f("pk_forecast_totals"),
        ),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("forecast_totals")
