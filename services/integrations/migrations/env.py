"""Alembic environment of the integrations service (see crmkit.migrations)."""

from crmkit.migrations import run_env
from services.integrations.store import Base

run_env(Base.metadata)
