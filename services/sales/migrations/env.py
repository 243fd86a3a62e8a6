"""Alembic environment of the sales service (see crmkit.migrations)."""

from crmkit.migrations import run_env
from services.sales.store import Base

run_env(Base.metadata)
