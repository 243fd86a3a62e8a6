"""import jobs (jobs, uploaded chunks, staged rows, row errors) and contacts.external_id

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("external_id", sa.String(64), nullable=False, server_default=""))
    op.create_index(
        "ux_contacts_tenant_id_external_id",
        "contacts",
        ["tenant_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id <> ''"),
        sqlite_where=sa.text("external_id <> ''"),
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("column_mapping", JSONType, nullable=False),
        sa.Column("match_key", sa.String(20), nullable=False),
        sa.Column("allow_partial", sa.Boolean(), nullable=False),
        sa.Column("validate_only", sa.Boolean(), nullable=False),
        sa.Column("chunks_received", sa.Integer(), nullable=False),
        sa.Column("bytes_received", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=False),
        sa.Column("rows_processed", sa.BigInteger(), nullable=False),
        sa.Column("rows_created", sa.BigInteger(), nullable=False),
        sa.Column("rows_updated", sa.BigInteger(), nullable=False),
        sa.Column("rows_failed", sa.BigInteger(), nullable=False),
        sa.Column("progress_percent", sa.Integer(), nullable=False),
        sa.Column("applied_through", sa.BigInteger(), nullable=False),
        sa.Column("error_message", sa.String(1000), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_jobs"),
    )
    op.create_index("ix_import_jobs_tenant_id_id", "import_jobs", ["tenant_id", "id"])
    op.create_index("ix_import_jobs_state", "import_jobs", ["state"])
    op.create_table(
        "import_chunks",
        sa.Column("job_id", sa.String(26), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "sequence", name="pk_import_chunks"),
    )
    op.create_table(
        "import_rows",
        sa.Column("job_id", sa.String(26), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("match_key", sa.String(320), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "row_number", name="pk_import_rows"),
    )
    op.create_table(
        "import_errors",
        sa.Column("job_id", sa.String(26), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "row_number", "position", name="pk_import_errors"),
    )


def downgrade() -> None:
    op.drop_table("import_errors")
    op.drop_table("import_rows")
    op.drop_table("import_chunks")
    op.drop_table("import_jobs")
    op.drop_index("ux_contacts_tenant_id_external_id", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("external_id")
