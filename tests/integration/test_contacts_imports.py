"""CSV imports as jobs and the streamed CSV export, over real gRPC on PostgreSQL (and the embedded
SQLite path): mapping, upserts, dedup, row errors, malformed files, restarts, events to marketing."""

import csv
import datetime as dt
import io

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, imports_pb2, imports_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.grpcserver import start_server
from crmkit.migrations import upgrade
from crmkit.tokens import InternalTokens, Principal
from services.contacts import dedup, dedup_store, import_store
from services.contacts.accounts import AccountFields
from services.contacts.custom_fields import DefinitionFields
from services.contacts.dedup_store import ContactMatchKeyRow
from services.contacts.exports import export_csv
from services.contacts.imports import ImportJobs, ImportWorker
from services.contacts.module import MIGRATIONS, build
from services.contacts.store import OUTBOX, ContactRow
from services.contacts.usecases import Contacts
from services.contacts.usecases_accounts import Accounts, CustomFieldDefinitions
from services.marketing import store as marketing_store
from services.marketing.events import contact_projection
from tests.integration.events_support import RunningConsumer, wait_until

TOKENS = InternalTokens("t" * 40)
SCOPES = frozenset({"contacts:read", "contacts:write", "contacts:import", "contacts:export", "contacts:assign"})
ADMIN_A = Principal("TENANT_A", "apikey:a", SCOPES)
ADMIN_B = Principal("TENANT_B", "apikey:b", SCOPES)
Job = imports_pb2.ImportJob
MAPPING = {
    "First": "givenName",
    "Last": "familyName",
    "E-mail": "email",
    "Phone": "phone",
    "Region": "customFields.region",
    "Tags": "tags",
    "Stage": "lifecycleStage",
}


@pytest.fixture
def service(migrated):
    database = migrated("contacts")
    module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": database.url}))
    server = start_server("contacts", module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    worker = ImportWorker(database, Outbox("contacts", OUTBOX), batch_rows=50)
    yield Client(channel, worker), database
    channel.close()
    server.stop(0)
    module.database.dispose()


class Client:
    def __init__(self, channel: grpc.Channel, worker: ImportWorker) -> None:
        self.jobs = imports_pb2_grpc.ImportJobsServiceStub(channel)
        self.contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        self.worker = worker

    def import_csv(self, text, principal=ADMIN_A, chunk=40, run=True, encoded=None, **job):
        job.setdefault("column_mapping", MAPPING)
        meta = as_(principal)
        created = self.jobs.CreateImportJob(imports_pb2.CreateImportJobRequest(import_job=Job(**job)), metadata=meta)
        data = encoded if encoded is not None else text.encode()
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        for sequence in reversed(range(len(pieces))):  # any order: the sequence numbers order them
            request = imports_pb2.UploadImportChunkRequest(id=created.id, sequence=sequence, data=pieces[sequence])
            self.jobs.UploadImportChunk(request, metadata=meta)
        self.jobs.StartImportJob(
            imports_pb2.StartImportJobRequest(id=created.id, chunk_count=len(pieces)), metadata=meta
        )
        if run:
            self.worker.run_until_idle()
        return self.get(created.id, principal)

    def get(self, job_id, principal=ADMIN_A):
        return self.jobs.GetImportJob(imports_pb2.GetImportJobRequest(id=job_id), metadata=as_(principal))

    def errors(self, job_id, page_size=0):
        found, token = [], ""
        while True:
            request = imports_pb2.ListImportJobErrorsRequest(id=job_id, page_size=page_size, page_token=token)
            page = self.jobs.ListImportJobErrors(request, metadata=as_(ADMIN_A))
            found += [(e.row_number, e.field, e.message) for e in page.errors]
            token = page.next_page_token
            if not token:
                return found

    def export(self, principal=ADMIN_A, **request):
        pieces = self.jobs.ExportContacts(imports_pb2.ExportContactsRequest(**request), metadata=as_(principal))
        return b"".join(piece.data for piece in pieces).decode()


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


def contacts_of(database, tenant="TENANT_A") -> dict[str, ContactRow]:
    with database.transaction() as session:
        rows = session.scalars(sa.select(ContactRow).where(ContactRow.tenant_id == tenant)).all()
    return {r.email_key or r.external_id: r for r in rows}


def outbox_types(database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(sa.select(OUTBOX.c.event_type).order_by(OUTBOX.c.id)))


HEADER = "First,Last,E-mail,Phone,Region,Tags,Stage,Ignored\n"


def test_an_import_maps_columns_upserts_by_email_and_reports_progress(service):
    client, database = service
    existing = client.contacts.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(given_name="Old", email="ada@example.com", title="Countess")
        ),
        metadata=as_(ADMIN_A),
    )
    rows = [f"P{i},Q{i},p{i}@example.com,,EMEA,a;b,lead,x\n" for i in range(120)]
    text = HEADER + '"Ada","Lovelace",ADA@Example.com,+44 20 7946 0958,"AMER, north",vip,CUSTOMER,x\n' + "".join(rows)
    job = client.import_csv(text)
    assert job.state == Job.SUCCEEDED, job.error_message
    assert (job.rows_total, job.rows_created, job.rows_updated, job.rows_failed) == (121, 120, 1, 0)
    assert job.progress_percent == 100 and job.chunks_received > 10
    stored = contacts_of(database)
    assert len(stored) == 121
    ada = stored["ada@example.com"]
    assert ada.id == existing.id  # matched without regard to case: updated, not duplicated
    assert (ada.given_name, ada.family_name, ada.title) == ("Ada", "Lovelace", "Countess")  # unmapped kept
    assert ada.phone == "+442079460958"  # E.164, as any other write
    assert ada.custom_fields == {"region": "AMER, north"} and ada.tags == ["vip"]
    assert ada.lifecycle_stage == "CUSTOMER"
    assert stored["p7@example.com"].lifecycle_stage == "LEAD" and stored["p7@example.com"].tags == ["a", "b"]
    # One event per batch of 50, not one per row.
    assert outbox_types(database) == ["crm.contacts.v1.ContactCreated"] + ["crm.contacts.v1.ContactsImported"] * 3
    # The upload is dropped once the job is done.
    with database.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(import_store.ImportChunkRow)) == 0


def test_an_import_upserts_by_external_id(service):
    client, database = service
    mapping = {"Id": "externalId", "Name": "givenName", "Mail": "email"}
    first = client.import_csv(
        "Id,Name,Mail\nX-1,Ann,ann@example.com\nX-2,Bob,\n", column_mapping=mapping, match_key=Job.EXTERNAL_ID
    )
    assert (first.state, first.rows_created) == (Job.SUCCEEDED, 2)
    # X-1 renamed and given a new email; X-3 new; X-4 has no name, email or phone: refused.
    second = client.import_csv(
        "Id,Name,Mail\nX-1,Annie,annie@example.com\nX-3,Cid,\nX-4,,\n",
        column_mapping=mapping,
        match_key=Job.EXTERNAL_ID,
        allow_partial=True,
    )
    assert (second.state, second.rows_created, second.rows_updated, second.rows_failed) == (Job.SUCCEEDED, 1, 1, 1)
    assert client.errors(second.id) == [(3, "givenName", "a new contact needs a name, email or phone")]
    stored = contacts_of(database)
    assert {r.external_id: r.given_name for r in stored.values()} == {"X-1": "Annie", "X-2": "Bob", "X-3": "Cid"}
    assert stored["annie@example.com"].external_id == "X-1"


def test_bad_rows_and_in_file_duplicates_fail_the_job_unless_partial_and_are_reported(service):
    client, database = service
    text = (
        HEADER
        + "A,,a@example.com,,,,,\n"
        + "B,,not-an-email,,,,,\n"
        + "C,,a@EXAMPLE.com,,,,,\n"  # the same email as row 1
        + "D,,d@example.com,12,,,NOPE,\n"
        + "E,,e@example.com,,,,\n"  # one column short
        + ",,,,,,,\n"  # blank: not a row
        + "F,,f@example.com,,,,,\n"
    )
    strict = client.import_csv(text)
    assert strict.state == Job.FAILED and "4 of 6 rows have errors" in strict.error_message
    assert contacts_of(database) == {} and outbox_types(database) == []
    partial = client.import_csv(text, allow_partial=True)
    assert partial.state == Job.SUCCEEDED and (partial.rows_created, partial.rows_failed) == (2, 4)
    assert set(contacts_of(database)) == {"a@example.com", "f@example.com"}
    errors = client.errors(partial.id, page_size=2)  # paginated
    assert [(n, f) for n, f, _ in errors] == [
        (2, "email"),
        (3, "email"),
        (4, "phone"),
        (4, "lifecycleStage"),
        (5, ""),
    ]
    assert "the same as row 1" in errors[1][2] and "has 7 columns" in errors[4][2]


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        (b'First,E-mail\nAda,"ada@example.com\n', "not valid CSV"),
        ("First,E-mail\nAda,ad\u00e9@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"First,Mail\nAda,ada@example.com\n", "no column 'E-mail'"),
        (b"", "empty"),
    ],
)
def test_a_malformed_file_fails_the_job_and_writes_nothing(service, encoded, message):
    client, database = service
    payload = encoded or b"\n"
    job = client.import_csv("", encoded=payload, column_mapping={"First": "givenName", "E-mail": "email"})
    assert job.state == Job.FAILED and message in job.error_message
    assert contacts_of(database) == {} and outbox_types(database) == []


def test_validate_only_reports_without_writing(service):
    client, database = service
    job = client.import_csv(HEADER + "A,,a@example.com,,,,,\nB,,bad,,,,,\n", validate_only=True)
    assert (job.state, job.rows_total, job.rows_failed, job.rows_created) == (Job.SUCCEEDED, 2, 1, 0)
    assert [f for _, f, _ in client.errors(job.id)] == ["email"]
    assert contacts_of(database) == {}


def test_chunks_are_ordered_idempotent_and_checked_and_jobs_are_per_tenant(service):
    client, database = service
    meta = as_(ADMIN_A)
    job = client.jobs.CreateImportJob(
        imports_pb2.CreateImportJobRequest(import_job=Job(column_mapping=MAPPING)), metadata=meta
    )
    chunk = imports_pb2.UploadImportChunkRequest(id=job.id, sequence=1, data=b"A,,a@example.com,,,,,\n")
    client.jobs.UploadImportChunk(chunk, metadata=meta)
    again = client.jobs.UploadImportChunk(chunk, metadata=meta)  # a re-send changes nothing
    assert again.chunks_received == 1
    with pytest.raises(grpc.RpcError) as caught:
        changed = imports_pb2.UploadImportChunkRequest(id=job.id, sequence=1, data=b"other")
        client.jobs.UploadImportChunk(changed, metadata=meta)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as caught:  # chunk 0 is missing
        client.jobs.StartImportJob(imports_pb2.StartImportJobRequest(id=job.id, chunk_count=2), metadata=meta)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "missing [0]" in caught.value.details()
    for request in (
        imports_pb2.GetImportJobRequest(id=job.id),
        imports_pb2.UploadImportChunkRequest(id=job.id, sequence=0, data=HEADER.encode()),
    ):
        method = (
            client.jobs.GetImportJob
            if isinstance(request, imports_pb2.GetImportJobRequest)
            else client.jobs.UploadImportChunk
        )
        with pytest.raises(grpc.RpcError) as caught:
            method(request, metadata=as_(ADMIN_B))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    client.jobs.UploadImportChunk(
        imports_pb2.UploadImportChunkRequest(id=job.id, sequence=0, data=HEADER.encode()), metadata=meta
    )
    client.jobs.StartImportJob(imports_pb2.StartImportJobRequest(id=job.id, chunk_count=2), metadata=meta)
    client.worker.run_until_idle()
    assert client.get(job.id).state == Job.SUCCEEDED and set(contacts_of(database)) == {"a@example.com"}


def test_a_bad_mapping_is_refused_naming_the_field(service):
    client, _ = service
    bad = Job(column_mapping={"First": "givenName", "X": "nickname", "Y": "customFields.1bad"})
    with pytest.raises(grpc.RpcError) as caught:
        client.jobs.CreateImportJob(imports_pb2.CreateImportJobRequest(import_job=bad), metadata=as_(ADMIN_A))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"columnMapping.X", "columnMapping.Y", "columnMapping"} <= {v.field for v in _violations(caught.value)}


def _violations(error):
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            return list(request.field_violations)
    return []


def test_a_crashed_import_resumes_after_its_last_batch(service):
    client, database = service
    rows = "".join(f"N{i},,n{i}@example.com,,,,,\n" for i in range(130))
    job = client.import_csv(HEADER + rows, run=False)
    first = ImportWorker(database, Outbox("contacts", OUTBOX), batch_rows=50)
    assert first._validate(job.id) == "IMPORTING"
    assert first._apply_batch(job.id)  # one batch written, then the worker "dies" holding the lease
    assert len(contacts_of(database)) == 50
    assert client.get(job.id).state == Job.IMPORTING
    # A live lease keeps another worker off; once it runs out, the job is taken over and finished.
    second = ImportWorker(database, Outbox("contacts", OUTBOX), batch_rows=50)
    assert second.tick() is False
    later = ImportWorker(
        database,
        Outbox("contacts", OUTBOX),
        batch_rows=50,
        clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )
    assert later.tick() is True
    done = client.get(job.id)
    assert (done.state, done.rows_created, done.progress_percent) == (Job.SUCCEEDED, 130, 100)
    assert len(contacts_of(database)) == 130  # nothing written twice
    assert outbox_types(database).count("crm.contacts.v1.ContactsImported") == 3


def test_a_cancelled_job_writes_nothing(service):
    client, database = service
    job = client.import_csv(HEADER + "A,,a@example.com,,,,,\n", run=False)
    cancelled = client.jobs.CancelImportJob(imports_pb2.CancelImportJobRequest(id=job.id), metadata=as_(ADMIN_A))
    assert cancelled.state == Job.CANCELLED
    assert client.worker.run_until_idle() == 0
    assert contacts_of(database) == {}


def test_imported_contacts_reach_the_marketing_audience(service, migrated, amqp_url, amqp_prefix):
    client, database = service
    marketing = migrated("marketing")
    bus = RabbitBus(amqp_url, amqp_prefix)
    consumer = contact_projection(marketing)
    bus.declare(consumer.subscription)
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
    relay = OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts")
    try:
        job = client.import_csv(HEADER + "".join(f"M{i},,m{i}@example.com,,,vip,,\n" for i in range(120)))
        assert job.state == Job.SUCCEEDED
        while relay.publish_batch():
            pass

        def projected() -> int:
            with marketing.transaction() as session:
                return len(marketing_store.page(session, "TENANT_A", None, 1000))

        wait_until(lambda: projected() == 120, what="the imported contacts in the audience")
        with marketing.transaction() as session:
            member = marketing_store.get(session, "TENANT_A", contacts_of(database)["m5@example.com"].id)
        assert member is not None and member.given_name == "M5" and member.tags == ("vip",)
    finally:
        running.close()
        relay.publisher.close()


def test_the_export_streams_every_matching_contact_as_csv(service):
    client, _ = service
    text = HEADER + "".join(f"E{i},Z,e{i}@example.com,,EMEA,{'vip' if i % 2 else ''},,\n" for i in range(2500))
    assert client.import_csv(text, chunk=64 * 1024).state == Job.SUCCEEDED
    exported = list(csv.DictReader(io.StringIO(client.export())))
    assert len(exported) == 2500 and exported[0]["customFields"] == '{"region": "EMEA"}'
    assert {r["email"] for r in exported} == {f"e{i}@example.com" for i in range(2500)}
    vip = list(csv.DictReader(io.StringIO(client.export(filter="tags:vip", order_by="email desc"))))
    assert len(vip) == 1250 and vip[0]["email"] > vip[-1]["email"]
    assert client.export(principal=ADMIN_B).strip() == client.export(filter='email = "none"').strip()
    with pytest.raises(grpc.RpcError) as caught:
        client.export(filter="nickname = 1")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        client.export(principal=Principal("TENANT_A", "apikey:r", frozenset({"contacts:read"})))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as caught:  # a streaming method is guarded like a unary one
        list(client.jobs.ExportContacts(imports_pb2.ExportContactsRequest()))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_embedded_sqlite_path_imports_and_exports(tmp_path):
    url = f"sqlite:///{tmp_path / 'contacts.db'}"
    upgrade(MIGRATIONS, url)
    database = Database(url)
    try:
        jobs = ImportJobs(database)
        job = jobs.create(
            ADMIN_A, {"Id": "externalId", "Name": "givenName", "Mail": "email"}, "EXTERNAL_ID", False, False
        )
        jobs.upload_chunk(ADMIN_A, job.id, 0, b"Id,Name,Mail\nS-1,Sue,sue@example.com\nS-2,Sam,\n")
        jobs.start(ADMIN_A, job.id, 1)
        ImportWorker(database, Outbox("contacts", OUTBOX), batch_rows=1).run_until_idle()
        done = jobs.get(ADMIN_A, job.id)
        assert (done.state, done.rows_created) == ("SUCCEEDED", 2)
        exported = list(csv.DictReader(io.StringIO(b"".join(export_csv(database, ADMIN_A, "", "")).decode())))
        assert {(r["externalId"], r["givenName"]) for r in exported} == {("S-1", "Sue"), ("S-2", "Sam")}
        assert outbox_types(database) == ["crm.contacts.v1.ContactsImported"] * 2
    finally:
        database.dispose()


def test_a_job_that_hits_a_bug_fails_clearly_instead_of_retrying_forever(service, monkeypatch):
    client, database = service
    rows = "".join(f"B{i},,b{i}@example.com,,,,,\n" for i in range(120))
    job = client.import_csv(HEADER + rows, run=False)
    calls = []
    real_update = import_store.insert_contacts

    def broken_after_first_batch(session, found):
        calls.append(len(found))
        if len(calls) > 1:
            raise RuntimeError("a bug in the second batch")
        real_update(session, found)

    monkeypatch.setattr(import_store, "insert_contacts", broken_after_first_batch)
    client.worker.run_until_idle()
    failed = client.get(job.id)
    assert failed.state == Job.FAILED
    assert failed.error_message == "internal error; rows up to 50 were imported (50 contacts)"
    assert len(contacts_of(database)) == 50  # whole batches only


def test_imports_keep_custom_field_definitions_account_links_and_free_text(service):
    """An imported row goes through the same checks as any write: typed and required custom fields,
    accounts that must exist; and it is found by free text, account name included."""
    client, database = service
    outbox = Outbox("contacts", OUTBOX)
    accounts = Accounts(database, outbox)
    definitions = CustomFieldDefinitions(database)
    admin = Principal("TENANT_A", "apikey:a", SCOPES | {"contacts:admin"})
    acme = accounts.create(admin, AccountFields(name="Acme Rockets"))
    definitions.create(admin, DefinitionFields(object_type="CONTACT", key="seats", type="NUMBER", required=True))
    mapping = {"First": "givenName", "E-mail": "email", "Seats": "customFields.seats", "Accounts": "accountIds"}
    text = (
        "First,E-mail,Seats,Accounts\n"
        f"Ada,ada@example.com,12,{acme.id}\n"
        "Bob,bob@example.com,many,\n"  # not a number
        "Cy,cy@example.com,,\n"  # required and missing on create
        "Di,di@example.com,3,ACC_UNKNOWN\n"
    )
    job = client.import_csv(text, column_mapping=mapping, allow_partial=True)
    assert (job.state, job.rows_created, job.rows_failed) == (Job.SUCCEEDED, 1, 3)
    errors = {row: field for row, field, _ in client.errors(job.id)}
    assert errors == {2: "customFields.seats", 3: "customFields.seats", 4: "accountIds"}
    [ada] = Contacts(database, outbox).list(ADMIN_A, 10, "", q="rockets")[0]
    assert ada.data.email == "ada@example.com" and ada.data.custom_fields == {"seats": 12}
    assert [a.account_id for a in ada.data.account_associations] == [acme.id]
    assert set(contacts_of(database)) == {"ada@example.com"}


def test_a_large_batch_files_every_contacts_blocking_keys(service):
    """A batch's keys go in at once (COPY on PostgreSQL): each contact is filed exactly under its keys."""
    client, database = service
    rows = "".join(f"Ada{i},Love{i},ada{i}@example.com,+1415555{i:04d},,,,\n" for i in range(120))
    worker = ImportWorker(database, Outbox("contacts", OUTBOX), batch_rows=200)
    job = client.import_csv(HEADER + rows, run=False)
    worker.run_until_idle()
    assert client.get(job.id).rows_created == 120
    with database.transaction() as session:
        filed: dict[str, set[str]] = {}
        for key, contact_id in session.execute(sa.select(ContactMatchKeyRow.key, ContactMatchKeyRow.contact_id)):
            filed.setdefault(contact_id, set()).add(key)
        contacts = session.scalars(sa.select(ContactRow)).all()
        expected = {row.id: dedup.blocking_keys(dedup_store.profile_of_row(row)) for row in contacts}
    assert len(expected) == 120 and sum(len(keys) for keys in expected.values()) >= dedup_store.COPY_FROM
    assert filed == expected
