"""nurture sequences: sequences, enrolments, step runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("segment_id", sa.String(26), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("steps", JSONType, nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_sequences"),
    )
    op.create_index("ix_sequences_segment", "sequences", ["tenant_id", "segment_id"])
    op.create_table(
        "sequence_enrolments",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("sequence_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("due_time", UTCDateTime(), nullable=True),
        sa.Column("exit_reason", sa.String(32), nullable=False),
        sa.Column("exit_detail", sa.String(200), nullable=False),
        sa.Column("enrol_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_sequence_enrolments"),
        sa.UniqueConstraint("tenant_id", "sequence_id", "contact_id", name="uq_sequence_enrolments_contact"),
    )
    op.create_index("ix_sequence_enrolments_due", "sequence_enrolments", ["status", "due_time"])
    op.create_index("ix_sequence_enrolments_of_contact", "sequence_enrolments", ["tenant_id", "contact_id", "status"])
    op.create_index("ix_sequence_enrolments_of_sequence", "sequence_enrolments", ["tenant_id", "sequence_id", "id"])
    op.create_table(
        "sequence_step_runs",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("enrolment_id", sa.String(26), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("mail_message_id", sa.String(255), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("run_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "enrolment_id", "step", name="pk_sequence_step_runs"),
    )
    op.create_index("ix_sequence_step_runs_mail", "sequence_step_runs", ["tenant_id", "mail_message_id"])


def downgrade() -> None:
    op.drop_table("sequence_step_runs")
    op.drop_table("sequence_enrolments")
    op.drop_table("sequences")
