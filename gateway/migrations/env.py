"""Alembic environment of the gateway (see crmkit.migrations)."""

from crmkit.migrations import run_env
from gateway.store import Base

run_env(Base.metadata)
