"""messages found by their Message-ID, with a bounce's permanence and a complaint's time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("bounce_hard", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("complaint_time", UTCDateTime(), nullable=True))
    # Bounce and complaint reports name the message by its Message-ID (docs/adr/0067).
    op.create_index("ix_messages_rfc_message_id", "messages", ["tenant_id", "rfc_message_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_rfc_message_id", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("complaint_time")
        batch.drop_column("bounce_hard")
