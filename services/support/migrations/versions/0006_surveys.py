"""satisfaction surveys, and the deployment's survey signing key (docs/adr/0020)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import datetime as dt
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("expire_time", UTCDateTime(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("response_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    op.create_index("ix_surveys_tenant_id_id", "surveys", ["tenant_id", "id"])
    op.create_index("ix_surveys_tenant_id_response_time", "surveys", ["tenant_id", "response_time"])
    secrets_table = op.create_table(
        "support_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_support_secrets")),
    )
    # Every deployment signs its survey links with its own random key, unless CRM_SURVEY_SECRET
    # overrides it (several deployments sharing links, or a key kept outside the database).
    op.bulk_insert(
        secrets_table,
        [{"name": "survey_signing_key", "value": secrets.token_urlsafe(48), "create_time": dt.datetime.now(dt.UTC)}],
    )


def downgrade() -> None:
    op.drop_table("support_secrets")
    op.drop_table("surveys")
