"""Composition root of the sales service: its database and outbox so far; its API lands with issue #4."""

from __future__ import annotations

from pathlib import Path

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.sales.store import OUTBOX

NAME = "sales"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    return ServiceModule(NAME, database, Path(__file__).parent / "migrations", outbox=Outbox(NAME, OUTBOX))
