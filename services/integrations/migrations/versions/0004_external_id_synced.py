"""external ids remember a hash per field of the values last synced, so a two-way sync can tell its
own echo from a real change; sync runs count updates (docs/adr/0057)

Revision ID: 0004_external_id_synced
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType

revision: str = "0004_external_id_synced"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.add_column(sa.Column("synced", JSONType, nullable=True))
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("updated_count")
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.drop_column("synced")
