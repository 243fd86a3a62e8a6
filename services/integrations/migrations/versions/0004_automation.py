"""automation rules and their execution log (docs/adr/0061, docs/adr/0062)

Revision ID: 0004_automation
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0004_automation"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("actions", JSONType, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
    )
    op.create_index("ix_automation_rules_tenant_id_id", "automation_rules", ["tenant_id", "id"])
    op.create_index(
        "ix_automation_rules_tenant_id_event_type_state", "automation_rules", ["tenant_id", "event_type", "state"]
    )
    op.create_table(
        "automation_executions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("rule_id", sa.String(length=26), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("event_data", JSONType, nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("causation_chain", JSONType, nullable=False),
        sa.Column("actions", JSONType, nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_time", UTCDateTime(), nullable=True),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=True),
        sa.Column("finish_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_executions")),
        sa.UniqueConstraint("rule_id", "event_id", name="uq_automation_executions_rule_id_event_id"),
    )
    op.create_index("ix_automation_executions_tenant_id_id", "automation_executions", ["tenant_id", "id"])
    op.create_index("ix_automation_executions_rule_id_id", "automation_executions", ["rule_id", "id"])
    op.create_index(
        "ix_automation_executions_state_next_attempt_time", "automation_executions", ["state", "next_attempt_time"]
    )


def downgrade() -> None:
    op.drop_table("automation_executions")
    op.drop_table("automation_rules")
