"""connections, sync state (cursors, runs, external ids, dead letters), email deliveries, and the
generated secret-box key (docs/adr/0046, 0047)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crmkit.db import JSONType, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index("ix_connections_tenant_id_id", ["tenant_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connections_type"), ["type"], unique=False)

    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("recipients", JSONType, nullable=False),
        sa.Column("to_addresses", JSONType, nullable=False),
        sa.Column("cc_addresses", JSONType, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.String(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("origin_ref", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("sent_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_deliveries")),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_email_deliveries_tenant_id_idempotency_key"),
    )
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_email_deliveries_status_id", ["status", "id"], unique=False)

    op.create_table(
        "external_ids",
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=998), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("internal_id", sa.String(length=64), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "object_type", "external_id", name=op.f("pk_external_ids")),
    )
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.create_index(
            "ix_external_ids_connection_id_object_type_internal_id",
            ["connection_id", "object_type", "internal_id"],
            unique=False,
        )

    op.create_table(
        "sync_cursors",
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("value", JSONType, nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "stream", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "sync_dead_letters",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=998), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("create_time", UTCDateTime(), nullable=False),
        sa.Column("update_time", UTCDateTime(), nullable=False),
        sa.Column("resolve_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_dead_letters")),
    )
    with op.batch_alter_table("sync_dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_sync_dead_letters_connection_id_id", ["connection_id", "id"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("connection_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("fetched_count", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("start_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_runs_connection_id_id", ["connection_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_connection_id_id")

    op.drop_table("sync_runs")
    with op.batch_alter_table("sync_dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_dead_letters_connection_id_id")

    op.drop_table("sync_dead_letters")
    op.drop_table("sync_cursors")
    with op.batch_alter_table("external_ids", schema=None) as batch_op:
        batch_op.drop_index("ix_external_ids_connection_id_object_type_internal_id")

    op.drop_table("external_ids")
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_email_deliveries_status_id")

    op.drop_table("email_deliveries")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connections_type"))
        batch_op.drop_index("ix_connections_tenant_id_id")

    op.drop_table("connections")
