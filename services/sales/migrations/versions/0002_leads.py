"""leads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The lead tables of issue #4: leads, their history and conversions, web forms, assignment and
scoring rules and settings.
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
    op.create_table(
        "assignment_rules",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", JSONType, nullable=False),
        sa.Column("territory", sa.String(length=200), nullable=False),
        sa.Column("owner_ids", JSONType, nullable=False),
        sa.Column("capacity_per_owner", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_rules")),
    )
    with op.batch_alter_table("assignment_rules", schema=None) as batch_op:
        batch_op.create_index("ix_assignment_rules_tenant_id_position", ["tenant_id", "position"], unique=False)

    op.create_table(
        "lead_conversions",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("lead_id", sa.String(length=26), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("contact_reused", sa.Boolean(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("account_reused", sa.Boolean(), nullable=False),
        sa.Column("account_linked", sa.Boolean(), nullable=False),
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "lead_id", name=op.f("pk_lead_conversions")),
    )
    op.create_table(
        "lead_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("lead_id", sa.String(length=26), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("score_delta", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_history")),
    )
    with op.batch_alter_table("lead_history", schema=None) as batch_op:
        batch_op.create_index("ix_lead_history_tenant_id_lead_id_id", ["tenant_id", "lead_id", "id"], unique=False)

    op.create_table(
        "leads",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("industry", sa.String(length=200), nullable=False),
        sa.Column("company_size", sa.String(length=32), nullable=False),
        sa.Column("custom_attributes", JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("attribute_points", sa.Integer(), nullable=False),
        sa.Column("engagement_value", sa.Float(), nullable=False),
        sa.Column("engagement_time", UTCDateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("above_threshold", sa.Boolean(), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_engagement_time", ["engagement_time"], unique=False)
        batch_op.create_index("ix_leads_tenant_id_email_key", ["tenant_id", "email_key"], unique=False)
        batch_op.create_index("ix_leads_tenant_id_id", ["tenant_id", "id"], unique=False)
        batch_op.create_index("ix_leads_tenant_id_owner_id_status", ["tenant_id", "owner_id", "status"], unique=False)

    op.create_table(
        "scoring_rules",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("attribute", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_rules")),
    )
    with op.batch_alter_table("scoring_rules", schema=None) as batch_op:
        batch_op.create_index("ix_scoring_rules_tenant_id_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "scoring_settings",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("email_opened_points", sa.Integer(), nullable=False),
        sa.Column("email_clicked_points", sa.Integer(), nullable=False),
        sa.Column("form_submitted_points", sa.Integer(), nullable=False),
        sa.Column("half_life_days", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_scoring_settings")),
    )
    op.create_table(
        "web_forms",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("lead_source", sa.String(length=64), nullable=False),
        sa.Column("honeypot_field", sa.String(length=64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_forms")),
        sa.UniqueConstraint("public_key", name="uq_web_forms_public_key"),
    )
    with op.batch_alter_table("web_forms", schema=None) as batch_op:
        batch_op.create_index("ix_web_forms_tenant_id_id", ["tenant_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_forms", schema=None) as batch_op:
        batch_op.drop_index("ix_web_forms_tenant_id_id")

    op.drop_table("web_forms")
    op.drop_table("scoring_settings")
    with op.batch_alter_table("scoring_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_scoring_rules_tenant_id_id")

    op.drop_table("scoring_rules")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_tenant_id_owner_id_status")
        batch_op.drop_index("ix_leads_tenant_id_id")
        batch_op.drop_index("ix_leads_tenant_id_email_key")
        batch_op.drop_index("ix_leads_engagement_time")

    op.drop_table("leads")
    with op.batch_alter_table("lead_history", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_history_tenant_id_lead_id_id")

    op.drop_table("lead_history")
    op.drop_table("lead_conversions")
    with op.batch_alter_table("assignment_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_rules_tenant_id_position")

    op.drop_table("assignment_rules")
