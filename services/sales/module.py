"""Composition root of the sales service: its database and outbox so far; its API lands with issue #4."""

from __future__ import annotations

from pathlib import Path

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.sales.store import OUTBOX

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "sales"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    return ServiceModule(NAME, database, MIGRATIONS, outbox=Outbox(NAME, OUTBOX))
