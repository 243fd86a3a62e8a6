"""Composition root of the support service: its database and outbox so far; its API lands with issue #5."""

from __future__ import annotations

from pathlib import Path

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.support.store import OUTBOX

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "support"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    return ServiceModule(NAME, database, MIGRATIONS, outbox=Outbox(NAME, OUTBOX))
