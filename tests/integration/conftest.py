from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterator

import pytest

from crmkit.db import Database
from crmkit.migrations import upgrade
from tests.infra import Databases


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def migrations_of(service: str):
    return importlib.import_module(
        "gateway.module" if service == "gateway" else f"services.{service}.module"
    ).MIGRATIONS


@pytest.fixture
def migrated(databases: Databases) -> Iterator[Callable[[str], Database]]:
    """A fresh PostgreSQL database for a service, migrated to head."""
    opened: list[Database] = []

    def make(service: str) -> Database:
        # A random suffix: id() of a list is reused once it is freed, so it collided across tests.
        url = databases.create(f"{service}_{uuid.uuid4().hex[:12]}")
        upgrade(migrations_of(service), url)
        database = Database(url)
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.dispose()
