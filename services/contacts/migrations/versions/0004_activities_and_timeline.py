"""activities, timeline entries and forgotten contacts

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("occur_time", UTCDateTime(), nullable=True),
        sa.Column("due_time", UTCDateTime(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_time", UTCDateTime(), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("contact_ids", JSONType, nullable=False),
        sa.Column("account_ids", JSONType, nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
    )
    op.create_index("ix_activities_tenant_id_id", "activities", ["tenant_id", "id"])
    if op.get_bind().dialect.name == "postgresql":  # unmanaged in the model (timeline_store.py)
        for column in ("contact_ids", "account_ids"):
            op.execute(f"CREATE INDEX ix_activities_{column}_gin ON activities USING gin ({column} jsonb_path_ops)")
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(400), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("occur_time", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("attributes", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timeline_entries"),
    )
    op.create_index("ix_timeline_entries_contact", "timeline_entries", ["tenant_id", "contact_id", "occur_time"])
    op.create_index("ix_timeline_entries_account", "timeline_entries", ["tenant_id", "account_id", "occur_time"])
    op.create_index("ix_timeline_entries_source", "timeline_entries", ["tenant_id", "source", "source_id"])
    op.create_table(
        "timeline_forgotten_contacts",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("successor_id", sa.String(64), nullable=False),
        sa.Column("forget_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contact_id", name="pk_timeline_forgotten_contacts"),
    )


def downgrade() -> None:
    op.drop_table("timeline_forgotten_contacts")
    op.drop_table("timeline_entries")
    op.drop_table("activities")
