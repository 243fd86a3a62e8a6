"""Composition root of the integrations service: its database and outbox, and partner webhooks (issue #7)."""

from __future__ import annotations

from pathlib import Path

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.integrations.store import OUTBOX
from services.integrations.webhooks.module import add_webhooks

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "integrations"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    module = ServiceModule(NAME, database, MIGRATIONS, outbox=Outbox(NAME, OUTBOX))
    add_webhooks(module, settings)
    return module
