from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from crmkit.db import Database
from tests.infra import (
    ALL_CONSUMERS,
    Databases,
    delete_amqp_prefix,
    postgres_admin_url,
    rabbitmq_url,
    redis_url,
)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    with postgres_admin_url() as url:
        yield url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    with rabbitmq_url() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    with redis_url() as url:
        yield url


@pytest.fixture(scope="session")
def databases(pg_admin_url: str) -> Iterator[Databases]:
    registry = Databases(pg_admin_url)
    yield registry
    registry.drop_all()


@pytest.fixture
def amqp_prefix(amqp_url: str) -> Iterator[str]:
    """A broker namespace of this test's own; its queues are deleted afterwards."""
    prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    yield prefix
    delete_amqp_prefix(
        amqp_url,
        prefix,
        [
            *ALL_CONSUMERS,
            "test.batched",
            "test.consumer",
            "test.flaky",
            "test.poison",
            "test.poisoned-batch",
            "test.count",
        ],
        retry_tiers=3,
    )


@pytest.fixture
def migrated(databases: Databases) -> Iterator[Callable[[str], Database]]:
    """A fresh PostgreSQL database for a service, migrated to head."""
    opened: list[Database] = []

    def make(service: str) -> Database:
        database = Database(databases.migrated(service))
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.dispose()
