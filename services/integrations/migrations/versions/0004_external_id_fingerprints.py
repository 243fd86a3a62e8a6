"""external ids remember a fingerprint of the values last synced, so a two-way sync can tell its own
echo from a real change (docs/adr/0057)

Revision ID: 0004_external_id_fingerprints
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_external_id_fingerprints"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")
