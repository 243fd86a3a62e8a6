"""Alembic environment of the contacts service (see crmkit.migrations)."""

from crmkit.migrations import run_env
from services.contacts.store import Base

run_env(Base.metadata)
