"""tickets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
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
        "ticket_comments",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("author_type", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("external_message_id", sa.String(length=998), nullable=False),
        sa.Column("in_reply_to", sa.String(length=998), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    op.create_index(
        "ix_ticket_comments_tenant_id_ticket_id_id", "ticket_comments", ["tenant_id", "ticket_id", "id"], unique=False
    )

    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_history")),
    )
    op.create_index(
        "ix_ticket_history_tenant_id_ticket_id_id", "ticket_history", ["tenant_id", "ticket_id", "id"], unique=False
    )

    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("tags", JSONType, nullable=False),
        sa.Column("assignee_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("required_skills", JSONType, nullable=False),
        sa.Column("customer_tier", sa.String(length=64), nullable=False),
        sa.Column("external_thread_id", sa.String(length=998), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.Column("first_response_time", UTCDateTime(), nullable=True),
        sa.Column("solve_time", UTCDateTime(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_tenant_id_assignee_id", "tickets", ["tenant_id", "assignee_id"], unique=False)
    op.create_index(
        "ix_tickets_tenant_id_external_thread_id", "tickets", ["tenant_id", "external_thread_id"], unique=False
    )
    op.create_index("ix_tickets_tenant_id_id", "tickets", ["tenant_id", "id"], unique=False)
    op.create_index("ix_tickets_tenant_id_status", "tickets", ["tenant_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_tenant_id_status", table_name="tickets")
    op.drop_index("ix_tickets_tenant_id_id", table_name="tickets")
    op.drop_index("ix_tickets_tenant_id_external_thread_id", table_name="tickets")
    op.drop_index("ix_tickets_tenant_id_assignee_id", table_name="tickets")

    op.drop_table("tickets")
    op.drop_index("ix_ticket_history_tenant_id_ticket_id_id", table_name="ticket_history")

    op.drop_table("ticket_history")
    op.drop_index("ix_ticket_comments_tenant_id_ticket_id_id", table_name="ticket_comments")

    op.drop_table("ticket_comments")
