"""indexes for the contact listings' common filter and order (docs/adr/0064)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_tenant_id_family_name", "contacts", ["tenant_id", "family_name"])
    op.create_index("ix_contacts_tenant_id_create_time", "contacts", ["tenant_id", "create_time"])


def downgrade() -> None:
    op.drop_index("ix_contacts_tenant_id_create_time", "contacts")
    op.drop_index("ix_contacts_tenant_id_family_name", "contacts")
