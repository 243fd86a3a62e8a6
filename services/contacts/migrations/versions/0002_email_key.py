"""email_key: the lower-cased email duplicates are found by, indexed per tenant

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("email_key", sa.String(320), nullable=False, server_default=""))
    op.execute("UPDATE contacts SET email_key = lower(email)")
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("email_key", server_default=None)
    op.create_index("ix_contacts_tenant_id_email_key", "contacts", ["tenant_id", "email_key"])


def downgrade() -> None:
    op.drop_index("ix_contacts_tenant_id_email_key", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("email_key")
