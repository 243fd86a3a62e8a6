"""Alembic, one history per service. Each service's migrations/env.py calls run_env()."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations

from crmkit.db import UTCDateTime, create_engine


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, url), revision)


def include_object(metadata: sa.MetaData) -> Any:
    """An Alembic include_object hook that leaves out what the service declares unmanaged.

    A service lists, in `metadata.info["unmanaged"]`, glob patterns of table names, index names
    and `table.column` names that its migrations create but its models cannot describe on both
    backends (e.g. a PostgreSQL tsvector column, an SQLite FTS5 table and its shadow tables). The
    model/migration comparison then ignores exactly those; everything else is still compared.
    """
    patterns = tuple(metadata.info.get("unmanaged", ()))

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if not patterns or name is None:
            return True
        qualified = f"{obj.table.name}.{name}" if type_ == "column" else name
        return not any(fnmatchcase(qualified, p) for p in patterns)

    return include


def run_env(target_metadata: sa.MetaData) -> None:
    """The body of every migrations/env.py: online migrations in one transaction."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: sqlalchemy.url is not set (use crmkit.migrations.upgrade)")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=include_object(target_metadata),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def pending_model_changes(migrations_dir: Path, url: str, metadata: sa.MetaData) -> list[object]:
    """Differences between the models and a database migrated to head: empty when they agree."""
    from alembic.autogenerate import compare_metadata

    upgrade(migrations_dir, url)
    engine = create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            context_ = MigrationContext.configure(connection, opts={"include_object": include_object(metadata)})
            return list(compare_metadata(context_, metadata))
    finally:
        engine.dispose()


def create_messaging_tables(op: Operations) -> None:
    """Outbox and inbox, as every service's first migration creates them (frozen at version 1)."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("tenant_id", sa.String(26), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name="pk_inbox"),
    )
