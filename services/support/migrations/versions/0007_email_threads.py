"""email threads of tickets opened by email, and a lookup of comments by Message-ID (docs/adr/0047)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_email_threads",
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("requester_address", sa.String(length=320), nullable=False),
        sa.Column("support_address", sa.String(length=320), nullable=False),
        sa.Column("message_ids", JSONType, nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_email_threads")),
    )
    op.create_index(
        "ix_ticket_comments_tenant_id_external_message_id", "ticket_comments", ["tenant_id", "external_message_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_comments_tenant_id_external_message_id", table_name="ticket_comments")
    op.drop_table("ticket_email_threads")
