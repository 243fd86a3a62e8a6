"""Alembic environment of the marketing service (see crmkit.migrations)."""

from crmkit.migrations import run_env
from services.marketing.store import Base

run_env(Base.metadata)
