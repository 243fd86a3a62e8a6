"""audience members by lower-cased address (reply matching, privacy requests)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A reply's sender is matched with lower(email) = :address; without this it scanned the tenant.
    op.create_index("ix_audience_members_email", "audience_members", ["tenant_id", sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_audience_members_email", table_name="audience_members")
