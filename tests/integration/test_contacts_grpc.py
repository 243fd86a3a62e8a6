"""The contacts service over real gRPC on PostgreSQL: tokens, scopes, tenancy, no partial writes."""

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.events.v1.envelope_pb2 import Envelope
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crmkit.config import Settings
from crmkit.grpcserver import start_server
from crmkit.tokens import InternalTokens, Principal
from services.contacts.module import build
from services.contacts.store import OUTBOX, ContactRow

TOKENS = InternalTokens("t" * 40)
WRITER_A = Principal("TENANT_A", "apikey:a", frozenset({"contacts:read", "contacts:write"}))
WRITER_B = Principal("TENANT_B", "apikey:b", frozenset({"contacts:read", "contacts:write"}))
READER_A = Principal("TENANT_A", "apikey:r", frozenset({"contacts:read"}))


@pytest.fixture
def service(migrated):
    database = migrated("contacts")
    module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": database.url}))
    server = start_server("contacts", module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield contacts_pb2_grpc.ContactsServiceStub(channel), database
    channel.close()
    server.stop(0)
    module.database.dispose()


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


def counts(database) -> tuple[int, int]:
    with database.transaction() as session:
        contacts = session.execute(sa.select(sa.func.count()).select_from(ContactRow)).scalar_one()
        outbox = session.execute(sa.select(sa.func.count()).select_from(OUTBOX)).scalar_one()
    return contacts, outbox


def create(stub, principal=WRITER_A, **fields):
    request = contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(**fields))
    return stub.CreateContact(request, metadata=as_(principal), timeout=5)


def test_calls_without_a_valid_internal_token_are_refused(service):
    stub, _ = service
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListContacts(contacts_pb2.ListContactsRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    forged = InternalTokens("f" * 40).mint(WRITER_A)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListContacts(contacts_pb2.ListContactsRequest(), metadata=[("authorization", f"Bearer {forged}")])
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_service_checks_the_scope_itself(service):
    stub, database = service
    with pytest.raises(grpc.RpcError) as caught:
        create(stub, READER_A, given_name="Ada")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert counts(database) == (0, 0)


def test_another_tenants_contact_does_not_exist_for_you(service):
    stub, _ = service
    contact = create(stub, given_name="Ada")
    calls = [
        lambda m: stub.GetContact(contacts_pb2.GetContactRequest(id=contact.id), metadata=m),
        lambda m: stub.UpdateContact(
            contacts_pb2.UpdateContactRequest(id=contact.id, contact=contacts_pb2.Contact(given_name="X")), metadata=m
        ),
        lambda m: stub.DeleteContact(contacts_pb2.DeleteContactRequest(id=contact.id), metadata=m),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call(as_(WRITER_B))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.ListContacts(contacts_pb2.ListContactsRequest(), metadata=as_(WRITER_B)).contacts == []
    assert stub.GetContact(contacts_pb2.GetContactRequest(id=contact.id), metadata=as_(WRITER_A)).given_name == "Ada"


def test_invalid_input_names_each_field_and_writes_nothing(service):
    stub, database = service
    with pytest.raises(grpc.RpcError) as caught:
        create(stub, email="nope", phone="12345")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [detail] = rpc_status.from_call(caught.value).details
    bad_request = error_details_pb2.BadRequest()
    detail.Unpack(bad_request)
    assert {v.field for v in bad_request.field_violations} == {"email", "phone"}
    assert counts(database) == (0, 0)


def test_each_change_writes_one_event_in_the_same_transaction(service):
    stub, database = service
    contact = create(stub, given_name="Ada", email="ada@example.com")
    updated = stub.UpdateContact(
        contacts_pb2.UpdateContactRequest(
            id=contact.id, contact=contacts_pb2.Contact(title="Countess"), update_mask={"paths": ["title"]}
        ),
        metadata=as_(WRITER_A),
    )
    stub.DeleteContact(contacts_pb2.DeleteContactRequest(id=contact.id, etag=updated.etag), metadata=as_(WRITER_A))
    with database.transaction() as session:
        payloads = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars().all()
    envelopes = [Envelope.FromString(p) for p in payloads]
    assert [e.type for e in envelopes] == [
        "crm.contacts.v1.ContactCreated",
        "crm.contacts.v1.ContactUpdated",
        "crm.contacts.v1.ContactDeleted",
    ]
    assert {(e.tenant, e.subject, e.source) for e in envelopes} == {("TENANT_A", contact.id, "contacts")}
    assert counts(database) == (0, 3)


def test_a_stale_etag_is_aborted_and_changes_nothing(service):
    stub, database = service
    contact = create(stub, given_name="Ada")
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpdateContact(
            contacts_pb2.UpdateContactRequest(
                id=contact.id,
                contact=contacts_pb2.Contact(given_name="B", etag="stale"),
                update_mask={"paths": ["given_name"]},
            ),
            metadata=as_(WRITER_A),
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert counts(database) == (1, 1)


def test_pages_cover_every_contact_once(service):
    stub, _ = service
    created = {create(stub, given_name=f"P{n}").id for n in range(7)}
    seen, token, pages = [], "", 0
    while True:
        page = stub.ListContacts(
            contacts_pb2.ListContactsRequest(page_size=3, page_token=token), metadata=as_(WRITER_A)
        )
        seen += [c.id for c in page.contacts]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
