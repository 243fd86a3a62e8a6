"""campaigns, per-recipient messages, conversion attributions, the tracking signing key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import datetime as dt
import secrets
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
        "campaigns",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("segment_id", sa.String(26), nullable=False),
        sa.Column("template_id", sa.String(26), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("connection_id", sa.String(64), nullable=False),
        sa.Column("send_rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("cost_currency", sa.String(3), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=True),
        sa.Column("schedule_time", UTCDateTime(), nullable=True),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("finish_time", UTCDateTime(), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_campaigns"),
    )
    op.create_index("ix_campaigns_status_schedule", "campaigns", ["status", "schedule_time"])
    op.create_table(
        "messages",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(26), nullable=False),
        sa.Column("sequence_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("render_error", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("links", JSONType, nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("rfc_message_id", sa.String(300), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("sent_time", UTCDateTime(), nullable=True),
        sa.Column("first_open_time", UTCDateTime(), nullable=True),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("first_click_time", UTCDateTime(), nullable=True),
        sa.Column("clicked_urls", JSONType, nullable=False),
        sa.Column("bounce_time", UTCDateTime(), nullable=True),
        sa.Column("unsubscribe_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_messages"),
        sa.UniqueConstraint("tenant_id", "origin", "ref_id", "contact_id", name="uq_messages_recipient"),
    )
    op.create_index("ix_messages_campaign_status", "messages", ["tenant_id", "campaign_id", "status", "id"])
    op.create_index("ix_messages_contact", "messages", ["tenant_id", "contact_id"])
    op.create_table(
        "attributions",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("opportunity_id", sa.String(26), nullable=False),
        sa.Column("campaign_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("revenue_nanos", sa.BigInteger(), nullable=False),
        sa.Column("won_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "opportunity_id", "campaign_id", name="pk_attributions"),
    )
    op.create_index("ix_attributions_campaign", "attributions", ["tenant_id", "campaign_id"])
    secrets_table = op.create_table(
        "marketing_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_marketing_secrets"),
    )
    # Each deployment signs its tracking links with its own random key unless
    # CRM_TRACKING_SECRET overrides it (docs/adr/0053).
    op.bulk_insert(
        secrets_table,
        [{"name": "tracking_signing_key", "value": secrets.token_urlsafe(48), "create_time": dt.datetime.now(dt.UTC)}],
    )


def downgrade() -> None:
    for table in ("marketing_secrets", "attributions", "messages", "campaigns"):
        op.drop_table(table)
