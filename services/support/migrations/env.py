"""Alembic environment of the support service (see crmkit.migrations)."""

from crmkit.migrations import run_env
from services.support.store import Base

run_env(Base.metadata)
