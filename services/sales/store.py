"""The sales service's tables: so far only its outbox and inbox (its resources come with their issue)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from crmkit.db import make_metadata
from crmkit.events.tables import add_messaging_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)

# The lead tables register themselves on this Base (kept in their own module, issue #4).
# The tables of pipelines, opportunities, products and quotes live in their own module; importing
# it here puts them on Base.metadata, which migrations and their tests compare against.
from services.sales import deal_store as _deal_store  # noqa: E402,F401
from services.sales import lead_store  # noqa: E402, F401
