"""An import's batches on both backends (PostgreSQL with COPY, the embedded SQLite path with
INSERTs): a bad row or an in-file duplicate in the middle of a batch costs only that row, and a
failure in the middle of a batch's writes leaves none of that batch (docs/adr/0038, 0077)."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.tokens import Principal
from services.contacts import dedup_store
from services.contacts.dedup_store import ContactMatchKeyRow
from services.contacts.import_store import ImportErrorRow
from services.contacts.imports import ImportJobs, ImportWorker
from services.contacts.store import OUTBOX, ContactRow
from tests.infra import database_on

ADMIN = Principal("TENANT_A", "apikey:a", frozenset({"contacts:import", "contacts:read"}))
MAPPING = {"Name": "givenName", "Mail": "email", "Phone": "phone", "Tier": "customFields.tier"}
BATCH = 20


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, migrated, tmp_path) -> Iterator[Database]:
    with database_on(request.param, "contacts", migrated, tmp_path) as database:
        yield database


def run_import(database: Database, text: str, **options) -> str:
    jobs = ImportJobs(database)
    job = jobs.create(ADMIN, MAPPING, "EMAIL", options.get("allow_partial", False), False)
    data = text.encode()
    pieces = [data[i : i + 300] for i in range(0, len(data), 300)]
    for sequence, piece in enumerate(pieces):
        jobs.upload_chunk(ADMIN, job.id, sequence, piece)
    jobs.start(ADMIN, job.id, len(pieces))
    ImportWorker(database, Outbox("contacts", OUTBOX), batch_rows=BATCH).run_until_idle()
    return job.id


def counts(database: Database) -> tuple[int, int, int]:
    """Contacts, blocking-key rows and outbox events written."""
    with database.transaction() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (ContactRow.__table__, ContactMatchKeyRow.__table__, OUTBOX)
        )


def test_a_bad_row_and_an_in_file_duplicate_mid_batch_cost_only_themselves(database):
    rows = [f"P{i},p{i}@example.com,+1415555{i:04d},gold\n" for i in range(50)]
    rows[12] = "Bad,not-an-email,+1415555,gold\n"  # row 13: two problems, in the first batch
    rows[31] = "Dup,P3@Example.com,,gold\n"  # row 32: the same email as row 4, any case
    job_id = run_import(database, "Name,Mail,Phone,Tier\n" + "".join(rows), allow_partial=True)
    done = ImportJobs(database).get(ADMIN, job_id)
    assert (done.state, done.rows_total, done.rows_created, done.rows_failed) == ("SUCCEEDED", 50, 48, 2)
    with database.transaction() as session:
        errors = session.execute(
            sa.select(ImportErrorRow.row_number, ImportErrorRow.field, ImportErrorRow.message).order_by(
                ImportErrorRow.row_number, ImportErrorRow.position
            )
        ).all()
        stored = dict(session.execute(sa.select(ContactRow.email_key, ContactRow.phone)).all())
    assert [(n, f) for n, f, _ in errors] == [(13, "email"), (13, "phone"), (32, "email")]
    assert "the same as row 4" in errors[2][2]
    assert len(stored) == 48 and "p12@example.com" not in stored and "p31@example.com" not in stored
    assert stored["p3@example.com"] == "+14155550003"  # the first of the duplicates is kept
    contacts, keys, events = counts(database)
    assert (contacts, events) == (48, 3) and keys >= 48 * 3  # every good row filed, one event per batch


@pytest.mark.parametrize("failing", ["file_keys", "outbox"])
def test_a_failure_mid_batch_leaves_nothing_of_that_batch(database, monkeypatch, failing):
    """The second batch fails after its contacts were written (while filing their blocking keys, or
    adding its event): its contacts, keys and event roll back together; the first batch stays."""
    calls = []
    if failing == "file_keys":
        real_file_keys = dedup_store.file_keys

        def file_keys(session, contacts, *, new=False):
            if contacts:
                calls.append(len(contacts))
            if len(calls) > 1:
                raise RuntimeError("a bug while filing the second batch's keys")
            real_file_keys(session, contacts, new=new)

        monkeypatch.setattr(dedup_store, "file_keys", file_keys)
    else:
        real_add = Outbox.add

        def add(self, session, *args, **kwargs):
            calls.append(1)
            if len(calls) > 1:
                raise RuntimeError("a bug while adding the second batch's event")
            return real_add(self, session, *args, **kwargs)

        monkeypatch.setattr(Outbox, "add", add)
    rows = "".join(f"B{i},b{i}@example.com,,std\n" for i in range(50))
    job_id = run_import(database, "Name,Mail,Phone,Tier\n" + rows)
    failed = ImportJobs(database).get(ADMIN, job_id)
    assert failed.state == "FAILED"
    assert failed.error_message == f"internal error; rows up to {BATCH} were imported ({BATCH} contacts)"
    contacts, _, events = counts(database)
    assert (contacts, events) == (BATCH, 1)
    with database.transaction() as session:
        filed = set(session.scalars(sa.select(ContactMatchKeyRow.contact_id).distinct()))
        written = set(session.scalars(sa.select(ContactRow.id)))
    assert filed == written  # no key of a contact that is not there, none missing
