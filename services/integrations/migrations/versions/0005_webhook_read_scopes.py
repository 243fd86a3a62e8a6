"""webhook subscriptions remember the read scopes of who made them (ADR 70)

Revision ID: 0005
Revises: 0004_automation
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType

revision: str = "0005"
down_revision: str | None = "0004_automation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("read_scopes", JSONType, nullable=False, server_default="[]"))
    # Existing subscriptions were checked against the catalogue of the time: contacts and support.
    op.execute(sa.text("""UPDATE webhooks SET read_scopes = '["contacts:read", "support:read"]'"""))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("read_scopes")
