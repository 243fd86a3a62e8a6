"""contacts' further emails and phones (issue #3: a contact has several of each)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("additional_emails", JSONType, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("additional_phones", JSONType, nullable=False, server_default="[]"))
    op.create_table(
        "contact_additional_emails",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contact_id", "email_key"),
    )
    op.create_index(
        "ix_contact_additional_emails_tenant_id_email_key", "contact_additional_emails", ["tenant_id", "email_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_contact_additional_emails_tenant_id_email_key", "contact_additional_emails")
    op.drop_table("contact_additional_emails")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("additional_phones")
        batch.drop_column("additional_emails")
