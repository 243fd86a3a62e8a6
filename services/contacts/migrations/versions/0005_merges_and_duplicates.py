"""duplicates and merges: blocking keys, merge history/redirects, duplicate scans and their pairs

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_match_keys",
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("contact_id", sa.String(26), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", "contact_id", name="pk_contact_match_keys"),
    )
    op.create_index("ix_contact_match_keys_tenant_id_contact_id", "contact_match_keys", ["tenant_id", "contact_id"])
    op.create_table(
        "contact_merges",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("loser_id", sa.String(26), nullable=False),
        sa.Column("winner_id", sa.String(26), nullable=False),
        sa.Column("redirect_id", sa.String(26), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("sources", JSONType, nullable=False),
        sa.Column("merge_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_merges"),
    )
    op.create_index("ix_contact_merges_tenant_id_loser_id", "contact_merges", ["tenant_id", "loser_id"], unique=True)
    op.create_index("ix_contact_merges_tenant_id_redirect_id", "contact_merges", ["tenant_id", "redirect_id"])
    op.create_table(
        "duplicate_scans",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("position", sa.String(400), nullable=False),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.Column("total_contacts", sa.BigInteger(), nullable=False),
        sa.Column("pairs_found", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duplicate_scans"),
    )
    op.create_index("ix_duplicate_scans_tenant_id_id", "duplicate_scans", ["tenant_id", "id"])
    op.create_index("ix_duplicate_scans_state", "duplicate_scans", ["state"])
    op.create_table(
        "duplicate_pairs",
        sa.Column("scan_id", sa.String(26), nullable=False),
        sa.Column("contact_a", sa.String(26), nullable=False),
        sa.Column("contact_b", sa.String(26), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matches", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("scan_id", "contact_a", "contact_b", name="pk_duplicate_pairs"),
    )
    op.create_index(
        "ix_duplicate_pairs_scan_id_score", "duplicate_pairs", ["scan_id", "score", "contact_a", "contact_b"]
    )


def downgrade() -> None:
    op.drop_table("duplicate_pairs")
    op.drop_table("duplicate_scans")
    op.drop_table("contact_merges")
    op.drop_table("contact_match_keys")
