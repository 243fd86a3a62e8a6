"""The audit log's chain on PostgreSQL and SQLite: appends, the database refusing changes, and the
verifier naming exactly the entry someone tampered with."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmkit.db import Database
from crmkit.migrations import upgrade
from gateway.audit import GENESIS, AuditLog, Write
from gateway.tenancy import Tenancy
from tests.infra import Databases, migrations_of


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, databases: Databases, tmp_path: Path) -> Iterator[Database]:
    url = databases.create("audit") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(migrations_of("gateway"), url)
    db = Database(url)
    yield db
    db.dispose()


def write(tenant_id: str, n: int) -> Write:
    return Write(tenant_id, f"req-{n}", "apikey:K1", "POST", "/crm.x.v1.X/Create", "/v1/xs", "/v1/xs", f"X{n}", 200)


def tamper(database: Database, statement: str) -> None:
    """Change history behind the application's back, as an attacker with the database would."""
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            # A superuser session skips ordinary triggers: the refusal is for the application's role.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            connection.exec_driver_sql(statement)
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
            connection.exec_driver_sql(statement)


def test_entries_chain_per_tenant_and_verify(database: Database):
    tenancy = Tenancy(database)
    a, b = tenancy.create_tenant("A").tenant_id, tenancy.create_tenant("B").tenant_id
    log = AuditLog(database)
    first = log.append(write(a, 1))
    log.append(write(b, 1))
    second = log.append(write(a, 2))
    assert (first.sequence, first.previous_hash) == (1, GENESIS)
    assert (second.sequence, second.previous_hash) == (2, first.hash)
    assert log.verify(a).ok and log.verify(a).entries == 2
    assert log.verify(b).ok and log.verify(b).entries == 1
    rows, token = log.list(a, 1, "")
    assert [r.sequence for r in rows] == [1] and token
    rows, token = log.list(a, 1, token)
    assert [r.sequence for r in rows] == [2] and token == ""


def test_the_database_refuses_to_update_or_delete_entries(database: Database):
    tenant = Tenancy(database).create_tenant("A").tenant_id
    AuditLog(database).append(write(tenant, 1))
    for statement in ("UPDATE audit_entries SET status = 204", "DELETE FROM audit_entries"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), database.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    assert AuditLog(database).verify(tenant).ok


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("UPDATE audit_entries SET status = 204 WHERE sequence = 3", "hash does not match"),
        ("UPDATE audit_entries SET previous_hash = '{0}' WHERE sequence = 3", "previous_hash"),
        ("DELETE FROM audit_entries WHERE sequence = 3", "entry 3 is missing"),
    ],
)
def test_the_verifier_names_the_entry_that_was_tampered_with(database: Database, statement: str, reason: str):
    tenant = Tenancy(database).create_tenant("A").tenant_id
    log = AuditLog(database)
    for n in range(1, 6):
        log.append(write(tenant, n))
    tamper(database, statement.format("f" * 64))
    verdict = log.verify(tenant)
    assert (verdict.ok, verdict.sequence, verdict.entries) == (False, 3, 2)
    assert reason in verdict.reason


def test_a_truncated_chain_is_noticed_by_its_head(database: Database):
    tenant = Tenancy(database).create_tenant("A").tenant_id
    log = AuditLog(database)
    for n in range(1, 4):
        log.append(write(tenant, n))
    tamper(database, "DELETE FROM audit_entries WHERE sequence = 3")
    verdict = log.verify(tenant)
    assert (verdict.ok, verdict.sequence) == (False, 3) and "head is at 3" in verdict.reason


def test_concurrent_appends_of_one_tenant_keep_the_chain_whole(database: Database):
    tenant = Tenancy(database).create_tenant("A").tenant_id
    # Two independent engines stand for two gateway processes.
    other = Database(database.url)
    logs = [AuditLog(database), AuditLog(other)]
    errors: list[BaseException] = []

    def append_many(log: AuditLog) -> None:
        try:
            for n in range(15):
                log.append(write(tenant, n))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=append_many, args=(logs[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    verdict = logs[0].verify(tenant)
    assert verdict.ok and verdict.entries == 60
