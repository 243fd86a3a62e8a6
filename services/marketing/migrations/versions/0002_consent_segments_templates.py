"""consent (subscriptions, history, suppressions), engagement log, segments, templates, watermarks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
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
    with op.batch_alter_table("audience_members") as batch:
        batch.add_column(sa.Column("phone", sa.String(40), server_default="", nullable=False))
        batch.add_column(sa.Column("custom_fields", JSONType, server_default="{}", nullable=False))
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("legal_basis", sa.String(32), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("explicit_opt_in", sa.Boolean(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contact_id", "channel", name="pk_subscriptions"),
    )
    op.create_table(
        "subscription_history",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("legal_basis", sa.String(32), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("explicit_opt_in", sa.Boolean(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_history"),
    )
    op.create_index("ix_subscription_history_contact", "subscription_history", ["tenant_id", "contact_id", "id"])
    op.create_table(
        "suppressions",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "email", name="pk_suppressions"),
    )
    op.create_table(
        "engagements",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("occur_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_engagements"),
    )
    op.create_index("ix_engagements_contact", "engagements", ["tenant_id", "contact_id", "occur_time"])
    op.create_table(
        "segments",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rules", JSONType, nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_segments"),
    )
    op.create_table(
        "segment_members",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("segment_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "segment_id", "contact_id", name="pk_segment_members"),
    )
    op.create_index("ix_segment_members_contact", "segment_members", ["tenant_id", "contact_id"])
    op.create_table(
        "templates",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_templates"),
    )
    watermarks = op.create_table(
        "watermarks",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_watermarks"),
    )
    op.bulk_insert(watermarks, [{"name": "segment-engagement-expiry", "time": None}])


def downgrade() -> None:
    op.drop_table("watermarks")
    for table in ("templates", "segment_members", "segments", "engagements", "suppressions"):
        op.drop_table(table)
    op.drop_table("subscription_history")
    op.drop_table("subscriptions")
    with op.batch_alter_table("audience_members") as batch:
        batch.drop_column("custom_fields")
        batch.drop_column("phone")
