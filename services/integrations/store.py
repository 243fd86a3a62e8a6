"""The integrations service's tables: so far only its outbox and inbox (its resources come with their issue)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from crmkit.db import make_metadata
from crmkit.events.tables import add_messaging_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)

# The webhook tables share this metadata (one Alembic history per service).
from services.integrations.webhooks import store as _webhooks_store  # noqa: E402, F401
