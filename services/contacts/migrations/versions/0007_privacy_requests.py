"""privacy requests (data-subject exports and erasures, docs/adr/0048)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expected", JSONType, nullable=False),
        sa.Column("progress", JSONType, nullable=False),
        sa.Column("document", JSONType, nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("complete_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_requests"),
    )
    op.create_index("ix_privacy_requests_tenant_id_contact_id", "privacy_requests", ["tenant_id", "contact_id"])


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_tenant_id_contact_id", "privacy_requests")
    op.drop_table("privacy_requests")
