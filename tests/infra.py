"""Where tests find PostgreSQL, RabbitMQ and Redis, and throwaway databases and queue prefixes on them.

Order: the CRM_TEST_* variables; else testcontainers where a Docker engine answers; else the
local services on 127.0.0.1 (as on CI and the developer machines). A missing service fails the
suite loudly: these tests never skip.
"""

from __future__ import annotations

import importlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pika
import pytest
import sqlalchemy as sa

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
# Every event consumer of the suite, by the service that runs it: tests delete their queues under
# a test's broker prefix. tests/unit/test_consumer_registry.py keeps it equal to the modules' own.
CONSUMERS_BY_SERVICE: dict[str, list[str]] = {
    "contacts": ["contacts.timeline", "contacts.privacy-progress"],
    "marketing": [
        "marketing.contact-projection",
        "marketing.engagement-log",
        "marketing.privacy",
        "marketing.conversions",
        "marketing.bounces",
        "marketing.sequence-exits",
    ],
    "sales": ["sales.lead-scoring", "sales.privacy"],
    "support": ["support.contact-merges", "support.email-intake", "support.privacy"],
    "integrations": [
        "integrations.webhooks",
        "integrations.support-replies",
        "integrations.privacy",
        "integrations.automation",
        "integrations.odoo",
        "integrations.accounting-invoices",
        "integrations.accounting-customers",
    ],
}
ALL_CONSUMERS = [name for names in CONSUMERS_BY_SERVICE.values() for name in names]


def _docker_engine() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def postgres_admin_url() -> Iterator[str]:
    if url := os.environ.get("CRM_TEST_DATABASE_URL"):
        yield url
        return
    if _docker_engine():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
            yield container.get_connection_url()
        return
    if not _reachable(LOCAL_POSTGRES, 5432):
        pytest.fail(
            "PostgreSQL is needed: set CRM_TEST_DATABASE_URL, start Docker (testcontainers), or run it on "
            "127.0.0.1:5432 (see `env`/machines docs for the start command)",
            pytrace=False,
        )
    yield LOCAL_POSTGRES


@contextmanager
def rabbitmq_url() -> Iterator[str]:
    if url := os.environ.get("CRM_TEST_AMQP_URL"):
        yield url
        return
    if _docker_engine():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-alpine") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/%2F"
        return
    if not _reachable(LOCAL_AMQP, 5672):
        pytest.fail(
            "RabbitMQ is needed: set CRM_TEST_AMQP_URL, start Docker (testcontainers), or run it on 127.0.0.1:5672",
            pytrace=False,
        )
    yield LOCAL_AMQP


@contextmanager
def redis_url() -> Iterator[str]:
    if url := os.environ.get("CRM_TEST_REDIS_URL"):
        yield url
        return
    if _docker_engine():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
        return
    if not _reachable(LOCAL_REDIS, 6379):
        pytest.fail(
            "Redis is needed: set CRM_TEST_REDIS_URL, start Docker (testcontainers), or run it on 127.0.0.1:6379",
            pytrace=False,
        )
    yield LOCAL_REDIS


def delete_redis_prefix(url: str, prefix: str) -> None:
    """Remove every key a test wrote under its prefix."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
    finally:
        client.close()


class Databases:
    """Creates uniquely named PostgreSQL databases and drops them all at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = sa.engine.make_url(admin_url)
        self.run = uuid.uuid4().hex[:8]
        self.created: list[str] = []
        self.admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.migrated_templates: dict[str, str] = {}

    def template(self, label: str) -> str:
        """A CRM_DATABASE_URL template whose `{service}` databases are this run's (created by crm migrate)."""
        name = f"crmtest_{self.run}_{label}_{{service}}"
        self.created.append(name)
        return (
            self.admin_url.set(database=name)
            .render_as_string(hide_password=False)
            .replace("%7B", "{")
            .replace("%7D", "}")
        )

    def create(self, label: str, template: str | None = None) -> str:
        """A new, uniquely named database of this run: empty, or a copy of the database `template`."""
        name = f"crmtest_{self.run}_{label}_{uuid.uuid4().hex[:6]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def migrated(self, service: str) -> str:
        """A fresh database of `service` migrated to head. The migrations run once per run, into a
        template no one connects to; each database after that is a copy of it (CREATE DATABASE …
        TEMPLATE), 0.05 s instead of 0.3 to 1 s of Alembic (docs/adr/0088)."""
        template = self.migrated_templates.get(service)
        if template is None:
            url = self.create(f"tpl_{service}")
            from crmkit.migrations import upgrade

            upgrade(migrations_of(service), url)
            template = sa.engine.make_url(url).database or ""
            with self.admin.connect() as connection:
                # Not even autovacuum may connect, or the copies below would find it "in use".
                connection.execute(sa.text(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false'))
            self.migrated_templates[service] = template
        return self.create(service, template)

    def drop_all(self) -> None:
        """Drop every database of this run. Four at a time: one DROP DATABASE takes about 0.17 s here
        and a run makes hundreds, so dropping them one by one held the suite's end for 20-27 s."""
        with self.admin.connect() as connection:
            names = [
                row[0]
                for row in connection.execute(
                    sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"crmtest_{self.run}_%"}
                )
            ]

        def drop(name: str) -> None:
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(drop, names))
        self.admin.dispose()


def delete_amqp_prefix(amqp_url: str, prefix: str, consumers: list[str], retry_tiers: int) -> None:
    """Remove what a test declared under its prefix (queues per consumer and the exchange)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for consumer in consumers:
            base = f"{prefix}.{consumer}"
            for name in [base, f"{base}.dlq", *(f"{base}.retry.{i}" for i in range(retry_tiers))]:
                channel.queue_delete(name)
        channel.exchange_delete(f"{prefix}.events")
    finally:
        connection.close()


@contextmanager
def database_on(backend: str, service: str, migrated: Callable[[str], Any], directory: Path) -> Iterator[Any]:
    """A service's database migrated to head on `backend`: a fresh PostgreSQL one (from the
    `migrated` fixture), or the embedded SQLite file in `directory` (tests of both paths)."""
    if backend == "postgresql":
        yield migrated(service)
        return
    from crmkit.db import Database
    from crmkit.migrations import upgrade

    url = f"sqlite:///{directory / f'{service}.db'}"
    upgrade(migrations_of(service), url)
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


def migrations_of(service: str) -> Path:
    """The Alembic folder of a service (or of the gateway)."""
    return importlib.import_module(
        "gateway.module" if service == "gateway" else f"services.{service}.module"
    ).MIGRATIONS
