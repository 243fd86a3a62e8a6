"""Accounts, labelled associations, custom-field definitions and free text `q` (issue #3), over the
gRPC servicers on PostgreSQL and through the use cases on both PostgreSQL and SQLite."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    contacts_pb2,
    contacts_pb2_grpc,
    custom_fields_pb2_grpc,
)
from crm.events.v1.envelope_pb2 import Envelope
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.grpcserver import start_server
from crmkit.migrations import upgrade
from crmkit.tokens import InternalTokens, Principal
from services.contacts import store
from services.contacts.accounts import AccountFields
from services.contacts.custom_fields import DefinitionFields
from services.contacts.domain import Association, ContactFields
from services.contacts.module import MIGRATIONS, build
from services.contacts.store import OUTBOX, AccountAssociationRow, ContactRow
from services.contacts.store_accounts import AccountRow
from services.contacts.usecases import Contacts
from services.contacts.usecases_accounts import Accounts, CustomFieldDefinitions

TOKENS = InternalTokens("t" * 40)
A = Principal("TENANT_A", "apikey:a", frozenset({"contacts:read", "contacts:write", "contacts:admin"}))
B = Principal("TENANT_B", "apikey:b", frozenset({"contacts:read", "contacts:write", "contacts:admin"}))
WRITER = Principal("TENANT_A", "apikey:w", frozenset({"contacts:read", "contacts:write"}))
REP = Principal("TENANT_A", "user:rep", frozenset({"contacts:read", "contacts:write"}), own_records_only=True)


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


@pytest.fixture
def grpc_service(migrated):
    database = migrated("contacts")
    module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": database.url}))
    server = start_server("contacts", module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield (
        accounts_pb2_grpc.AccountsServiceStub(channel),
        contacts_pb2_grpc.ContactsServiceStub(channel),
        custom_fields_pb2_grpc.CustomFieldsServiceStub(channel),
        database,
    )
    channel.close()
    server.stop(0)
    module.database.dispose()


class Service:
    def __init__(self, database: Database) -> None:
        self.database = database
        outbox = Outbox("contacts", OUTBOX)
        self.contacts = Contacts(database, outbox)
        self.accounts = Accounts(database, outbox)
        self.definitions = CustomFieldDefinitions(database)


@pytest.fixture(params=["postgresql", "sqlite"])
def service(request, migrated, tmp_path):
    if request.param == "postgresql":
        database = migrated("contacts")
    else:
        url = f"sqlite:///{tmp_path / 'contacts.db'}"
        upgrade(MIGRATIONS, url)
        database = Database(url)
    yield Service(database)
    database.dispose()


def violations(error: grpc.RpcError) -> set[str]:
    [detail] = rpc_status.from_call(error).details
    bad_request = error_details_pb2.BadRequest()
    detail.Unpack(bad_request)
    return {v.field for v in bad_request.field_violations}


def count(database: Database, table) -> int:
    with database.transaction() as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def event_types(database: Database) -> list[str]:
    with database.transaction() as session:
        payloads = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars().all()
    return [Envelope.FromString(p).type for p in payloads]


# ---- accounts over gRPC


def test_an_account_is_normalised_and_its_changes_are_events(grpc_service):
    accounts, _, _, database = grpc_service
    created = accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(
            account=accounts_pb2.Account(
                name=" Bücher GmbH ",
                domain="https://WWW.Bücher.Example:8443/about?x=1",
                employee_count=40,
                address=accounts_pb2.PostalAddress(address_lines=["Hauptstr. 1"], locality="Berlin", region_code="de"),
                external_id="ERP-1",
            )
        ),
        metadata=as_(A),
    )
    assert created.name == "Bücher GmbH" and created.domain == "xn--bcher-kva.example"
    assert created.address.region_code == "DE" and created.owner_id == "" and created.etag
    updated = accounts.UpdateAccount(
        accounts_pb2.UpdateAccountRequest(
            id=created.id,
            account=accounts_pb2.Account(industry="Books", etag=created.etag),
            update_mask={"paths": ["industry"]},
        ),
        metadata=as_(A),
    )
    assert updated.industry == "Books" and updated.name == "Bücher GmbH" and updated.etag != created.etag
    with pytest.raises(grpc.RpcError) as caught:
        accounts.UpdateAccount(
            accounts_pb2.UpdateAccountRequest(
                id=created.id,
                account=accounts_pb2.Account(industry="X", etag=created.etag),
                update_mask={"paths": ["industry"]},
            ),
            metadata=as_(A),
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED
    accounts.DeleteAccount(accounts_pb2.DeleteAccountRequest(id=created.id), metadata=as_(A))
    assert event_types(database) == [
        "crm.contacts.v1.AccountCreated",
        "crm.contacts.v1.AccountUpdated",
        "crm.contacts.v1.AccountDeleted",
    ]


@pytest.mark.parametrize(
    ("account", "field"),
    [
        (accounts_pb2.Account(name=""), "name"),
        (accounts_pb2.Account(name="A\nB"), "name"),
        (accounts_pb2.Account(name="Acme", domain="not a domain"), "domain"),
        (accounts_pb2.Account(name="Acme", domain="ada@acme.com"), "domain"),
        (accounts_pb2.Account(name="Acme", employee_count=-1), "employee_count"),
        (
            accounts_pb2.Account(name="Acme", address=accounts_pb2.PostalAddress(region_code="XX")),
            "address.region_code",
        ),
    ],
)
def test_bad_account_input_is_400_naming_the_field_with_nothing_written(grpc_service, account, field):
    accounts, _, _, database = grpc_service
    with pytest.raises(grpc.RpcError) as caught:
        accounts.CreateAccount(accounts_pb2.CreateAccountRequest(account=account), metadata=as_(A))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == {field}
    assert count(database, AccountRow) == 0 and count(database, OUTBOX) == 0


def test_external_ids_are_unique_per_tenant_and_foreign_ids_are_404(grpc_service):
    accounts, _, _, _ = grpc_service
    first = accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Acme", external_id="ERP-7")),
        metadata=as_(A),
    )
    with pytest.raises(grpc.RpcError) as caught:
        accounts.CreateAccount(
            accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Acme 2", external_id="ERP-7")),
            metadata=as_(A),
        )
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS and first.id in caught.value.details()
    other = accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Other", external_id="ERP-8")),
        metadata=as_(A),
    )
    with pytest.raises(grpc.RpcError) as caught:  # on update too
        accounts.UpdateAccount(
            accounts_pb2.UpdateAccountRequest(
                id=other.id, account=accounts_pb2.Account(external_id="ERP-7"), update_mask={"paths": ["external_id"]}
            ),
            metadata=as_(A),
        )
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS and first.id in caught.value.details()
    accounts.CreateAccount(  # another tenant may use the same external id
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Acme", external_id="ERP-7")),
        metadata=as_(B),
    )
    for call in (
        lambda: accounts.GetAccount(accounts_pb2.GetAccountRequest(id=first.id), metadata=as_(B)),
        lambda: accounts.DeleteAccount(accounts_pb2.DeleteAccountRequest(id=first.id), metadata=as_(B)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_associations_are_400_naming_the_entry_with_nothing_written(grpc_service):
    accounts, contacts, _, database = grpc_service
    mine = accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Acme")), metadata=as_(A)
    )
    foreign = accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Theirs")), metadata=as_(B)
    )
    events_before = count(database, OUTBOX)
    cases = [
        ([contacts_pb2.AccountAssociation(account_id=foreign.id)], "accountAssociations[0].accountId"),
        (
            [
                contacts_pb2.AccountAssociation(account_id=mine.id, primary=True),
                contacts_pb2.AccountAssociation(account_id=foreign.id, primary=True),
            ],
            "accountAssociations[1].primary",
        ),
        ([contacts_pb2.AccountAssociation(account_id=mine.id, label="x" * 101)], "accountAssociations[0].label"),
        (
            [contacts_pb2.AccountAssociation(account_id=mine.id), contacts_pb2.AccountAssociation(account_id=mine.id)],
            "accountAssociations[1].accountId",
        ),
    ]
    for associations, field in cases:
        with pytest.raises(grpc.RpcError) as caught:
            contacts.CreateContact(
                contacts_pb2.CreateContactRequest(
                    contact=contacts_pb2.Contact(given_name="Ada", account_associations=associations)
                ),
                metadata=as_(A),
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in violations(caught.value), caught.value.details()
    assert count(database, ContactRow) == 0 and count(database, AccountAssociationRow) == 0
    assert count(database, OUTBOX) == events_before


# ---- associations, on both backends


def test_associations_mirror_account_ids_and_filter_by_the_table(service):
    acme = service.accounts.create(A, AccountFields(name="Acme"))
    globex = service.accounts.create(A, AccountFields(name="Globex"))
    ada = service.contacts.create(
        A,
        ContactFields(
            given_name="Ada",
            account_associations=(Association(acme.id, "decision maker", True), Association(globex.id, "billing")),
        ),
    )
    assert ada.data.account_ids == (acme.id, globex.id)
    grace = service.contacts.create(A, ContactFields(given_name="Grace", account_ids=(globex.id,)))
    assert grace.data.account_associations == (Association(globex.id, "", False),)
    found, _ = service.contacts.list(A, 10, "", f'accountIds:"{globex.id}"')
    assert {c.id for c in found} == {ada.id, grace.id}
    # a listed contact carries its associations as a read does: labels, primary flag, order
    listed = {c.id: c.data for c in found}
    assert listed[ada.id].account_associations == ada.data.account_associations
    assert listed[ada.id].account_ids == (acme.id, globex.id)
    assert listed[grace.id].account_associations == (Association(globex.id, "", False),)
    # account_ids alone keeps what is known of the accounts that stay
    ada = service.contacts.update(A, ada.id, ContactFields(account_ids=(acme.id,)), ["account_ids"], "")
    assert ada.data.account_associations == (Association(acme.id, "decision maker", True),)
    found, _ = service.contacts.list(A, 10, "", f'accountIds:"{globex.id}"')
    assert [c.id for c in found] == [grace.id]
    assert service.contacts.get(A, ada.id).data.account_associations == ada.data.account_associations


def test_deleting_an_account_removes_its_associations_and_updates_the_contacts(service):
    acme = service.accounts.create(A, AccountFields(name="Acme"))
    ada = service.contacts.create(A, ContactFields(given_name="Ada", account_associations=(Association(acme.id),)))
    service.accounts.delete(A, acme.id, "")
    after = service.contacts.get(A, ada.id)
    assert after.data.account_associations == () and after.data.account_ids == () and after.etag != ada.etag
    assert event_types(service.database)[-2:] == ["crm.contacts.v1.ContactUpdated", "crm.contacts.v1.AccountDeleted"]
    assert count(service.database, AccountAssociationRow) == 0


def test_a_rep_sees_and_changes_only_the_accounts_it_owns(service):
    mine = service.accounts.create(REP, AccountFields(name="Mine"))
    assert mine.data.owner_id == "user:rep"
    theirs = service.accounts.create(A, AccountFields(name="Theirs", owner_id="user:other"))
    found, _ = service.accounts.list(REP, 10, "")
    assert [a.id for a in found] == [mine.id]
    with pytest.raises(NotFound):
        service.accounts.get(REP, theirs.id)
    with pytest.raises(NotFound):
        service.accounts.update(REP, theirs.id, AccountFields(industry="x"), ["industry"], "")


# ---- duplicate emails on update


def test_changing_the_email_to_another_contacts_is_refused_unless_allowed(service):
    ada = service.contacts.create(A, ContactFields(given_name="Ada", email="ada@example.com"))
    grace = service.contacts.create(A, ContactFields(given_name="Grace", email="grace@example.com"))
    with pytest.raises(AlreadyExists) as caught:
        service.contacts.update(A, grace.id, ContactFields(email="ADA@example.com"), ["email"], "")
    [violation] = caught.value.violations
    assert violation.field == "email" and ada.id in violation.description
    assert service.contacts.get(A, grace.id).data.email == "grace@example.com"
    service.contacts.update(A, ada.id, ContactFields(email="Ada@Example.com"), ["email"], "")  # its own email
    allowed = service.contacts.update(A, grace.id, ContactFields(email="ada@example.com"), ["email"], "", True)
    assert allowed.data.email == "ada@example.com"


# ---- custom-field definitions


def define(service, key, type_, object_type="CONTACT", **more):
    return service.definitions.create(A, DefinitionFields(object_type=object_type, key=key, type=type_, **more))


def test_defined_custom_fields_are_checked_on_every_write(service):
    define(service, "seats", "NUMBER")
    define(service, "arr", "DECIMAL")
    define(service, "renewal", "DATE")
    define(service, "tier", "SINGLE_SELECT", options=("gold", "silver"), required=True)
    define(service, "regions", "MULTI_SELECT", options=("EMEA", "AMER"))
    bad = [
        ({"tier": "gold", "nope": 1}, "custom_fields.nope"),
        ({"tier": "gold", "seats": "ten"}, "custom_fields.seats"),
        ({"tier": "bronze"}, "custom_fields.tier"),
        ({"tier": "gold", "arr": 12.5}, "custom_fields.arr"),
        ({"tier": "gold", "renewal": "31/01/2026"}, "custom_fields.renewal"),
        ({"tier": "gold", "regions": ["EMEA", "APAC"]}, "custom_fields.regions"),
        ({"seats": 3}, "custom_fields.tier"),
    ]
    for values, field in bad:
        with pytest.raises(InvalidArgument) as caught:
            service.contacts.create(A, ContactFields(given_name="Ada", custom_fields=values))
        assert [v.field for v in caught.value.violations] == [field], values
    assert count(service.database, ContactRow) == 0
    ada = service.contacts.create(
        A,
        ContactFields(
            given_name="Ada",
            custom_fields={"tier": "gold", "arr": "1234567890123456789.50", "renewal": "2026-01-31", "seats": 10.0},
        ),
    )
    assert service.contacts.get(A, ada.id).data.custom_fields["arr"] == "1234567890123456789.50"
    with pytest.raises(InvalidArgument) as caught:
        service.contacts.update(A, ada.id, ContactFields(custom_fields={"seats": 3}), ["custom_fields"], "")
    assert [v.field for v in caught.value.violations] == ["custom_fields.tier"]
    # accounts have their own definitions: contact keys are unknown there
    define(service, "segment", "TEXT", object_type="ACCOUNT")
    with pytest.raises(InvalidArgument) as caught:
        service.accounts.create(A, AccountFields(name="Acme", custom_fields={"tier": "gold"}))
    assert [v.field for v in caught.value.violations] == ["custom_fields.tier"]
    # another tenant without definitions keeps free-form custom fields
    service.contacts.create(B, ContactFields(given_name="Free", custom_fields={"anything": "goes"}))


def test_filters_and_order_use_the_defined_type(service):
    define(service, "seats", "NUMBER")
    define(service, "arr", "DECIMAL")
    define(service, "renewal", "DATE")
    define(service, "vip", "BOOLEAN")
    define(service, "regions", "MULTI_SELECT", options=("EMEA", "AMER"))
    people = {
        "Ada": {"seats": 9, "arr": "100.10", "renewal": "2026-02-01", "vip": True, "regions": ["EMEA"]},
        "Grace": {"seats": 10, "arr": "99.99", "renewal": "2025-12-31", "vip": False, "regions": ["AMER", "EMEA"]},
        "Hedy": {"seats": 100, "arr": "1000", "renewal": "2026-01-15"},
        "Kay": {},
    }
    for name, values in people.items():
        service.contacts.create(A, ContactFields(given_name=name, custom_fields=values))

    def names(filter: str = "", order_by: str = "") -> list[str]:
        found, _ = service.contacts.list(A, 10, "", filter, order_by)
        return [c.data.given_name for c in found]

    assert sorted(names("customFields.seats > 9")) == ["Grace", "Hedy"]  # 10 > 9, not "10" < "9"
    assert sorted(names("customFields.arr >= 100")) == ["Ada", "Hedy"]
    assert sorted(names('customFields.renewal < "2026-01-20"')) == ["Grace", "Hedy"]
    assert names("customFields.vip = true") == ["Ada"]
    assert sorted(names("customFields.regions:EMEA")) == ["Ada", "Grace"]
    assert names(order_by="customFields.seats desc") == ["Hedy", "Grace", "Ada", "Kay"]
    assert names(order_by="customFields.arr") == ["Kay", "Grace", "Ada", "Hedy"]
    assert names('givenName = "Ada"', "createTime desc") == ["Ada"]  # the definitions are not needed here
    with pytest.raises(InvalidArgument):
        names("customFields.unknown = 1")
    with pytest.raises(InvalidArgument) as caught:  # an unknown order still lists the typed keys
        names(order_by="seats desc")
    assert "customFields.seats" in caught.value.violations[0].description
    with pytest.raises(InvalidArgument):
        names('customFields.renewal < "soon"')
    # keyset pages over a custom-field order cover everyone once
    seen, token = [], ""
    while True:
        found, token = service.contacts.list(A, 1, token, "", "customFields.arr desc")
        seen += [c.data.given_name for c in found]
        if not token:
            break
    assert seen == ["Hedy", "Ada", "Grace", "Kay"]


def test_a_used_definition_keeps_its_type_and_cannot_be_deleted(service):
    seats = define(service, "seats", "NUMBER")
    spare = define(service, "spare", "TEXT")
    ada = service.contacts.create(A, ContactFields(given_name="Ada", custom_fields={"seats": 3}))
    with pytest.raises(FailedPrecondition):
        service.definitions.update(A, seats.id, DefinitionFields(type="TEXT"), ["type"], "")
    with pytest.raises(FailedPrecondition):
        service.definitions.delete(A, seats.id, "")
    with pytest.raises(InvalidArgument) as caught:
        service.definitions.update(A, seats.id, DefinitionFields(key="other"), ["key"], "")
    assert [v.field for v in caught.value.violations] == ["key"]
    with pytest.raises(AlreadyExists):
        define(service, "seats", "TEXT")
    relabelled = service.definitions.update(A, seats.id, DefinitionFields(label="Seats"), ["label"], "")
    assert relabelled.data.label == "Seats" and relabelled.data.type == "NUMBER"
    service.definitions.delete(A, spare.id, "")
    service.contacts.update(A, ada.id, ContactFields(custom_fields={}), ["custom_fields"], "")
    service.definitions.delete(A, seats.id, "")
    found, _ = service.definitions.list(A, 10, "")
    assert found == []


# ---- free text q


def test_q_finds_contacts_by_name_email_phone_and_account_name(service):
    acme = service.accounts.create(A, AccountFields(name="Initech Systems", domain="initech.example"))
    ada = service.contacts.create(
        A, ContactFields(given_name="Ada", family_name="Lovelace", email="ada@analytical.example")
    )
    bob = service.contacts.create(
        A, ContactFields(given_name="Bob", phone="+14155550123", account_associations=(Association(acme.id),))
    )
    service.contacts.create(B, ContactFields(given_name="Ada", family_name="Lovelace"))

    def q(text: str, filter: str = "") -> list[str]:
        found, _ = service.contacts.list(A, 10, "", filter, "", text)
        return [c.id for c in found]

    assert q("lovelace") == [ada.id]
    assert q("ANALYTICAL") == [ada.id]
    assert q("4155550") == [bob.id]
    assert q("initech") == [bob.id]
    assert q("ada love") == [ada.id]
    assert q("ada", 'givenName = "Bob"') == []
    # A word with digits is looked up by its digits on PostgreSQL, and still has to appear whole.
    smith = service.contacts.create(A, ContactFields(given_name="Jo", email="smith42@acme.example"))
    joseph = service.contacts.create(A, ContactFields(given_name="Jo", email="joseph42@other.example"))
    assert q("smith42@acme") == [smith.id]
    assert set(q("jo h42@")) == {smith.id, joseph.id} and q("xsmith42@acme") == []
    service.accounts.update(A, acme.id, AccountFields(name="Umbrella"), ["name"], "")
    assert q("umbrella") == [bob.id] and q("initech") == []
    found, _ = service.accounts.list(A, 10, "", "", "", "initech.exa")
    assert [a.id for a in found] == [acme.id]
    with pytest.raises(InvalidArgument):  # a page token is bound to its q
        _first, token = service.contacts.list(A, 1, "", "", "", "a")
        service.contacts.list(A, 1, token, "", "", "b")


def test_q_on_postgresql_uses_the_trigram_indexes(migrated):
    """With a few thousand rows of one tenant, the planner serves `q` from the GIN trigram indexes."""
    database = migrated("contacts")
    columns = "tenant_id, given_name, family_name, email, email_key, phone, title, owner_id, lifecycle_stage"
    with database.transaction() as session:
        session.execute(
            sa.text(
                f"INSERT INTO contacts (id, {columns}, account_ids, tags, custom_fields, create_time, update_time,"
                " etag, search_text) SELECT lpad(n::text, 26, '0'), 'T', md5(n::text), '', '', '', '', '', '', '', "
                " '[]', '[]', '{}', now(), now(), 'e', md5(n::text) || ' ' || md5((n + 1)::text)"
                " FROM generate_series(1, 5000) AS n"
            )
        )
        session.execute(
            sa.text(
                "INSERT INTO accounts SELECT lpad(n::text, 26, '0'), 'T', md5(n::text), '', '', 0, '{}', '', '{}',"
                " '', now(), now(), 'e', md5(n::text) FROM generate_series(1, 5000) AS n"
            )
        )
        session.execute(sa.text("ANALYZE contacts"))
        session.execute(sa.text("ANALYZE accounts"))
        # What autovacuum does in time: merge the GIN pending list (the planner avoids a long one).
        for index in ("ix_contacts_search_trgm", "ix_accounts_search_trgm"):
            session.execute(sa.text(f"SELECT gin_clean_pending_list('{index}')"))
        for table, index in (
            (store.ContactRow, "ix_contacts_search_trgm"),
            (AccountRow, "ix_accounts_search_trgm"),
        ):
            for text in ("lovelace", "lovelace1234.x"):  # the second by '%e1234.%', then whole by strpos
                condition = store.free_text(table.search_text, text, "postgresql")
                query = sa.select(table.id).where(table.tenant_id == "T", condition)
                compiled = query.compile(dialect=session.get_bind().dialect)
                rows = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars()
                plan = "\n".join(rows)
                assert index in plan, plan


def test_q_is_planned_for_its_words_even_where_postgresql_would_use_a_generic_plan(migrated):
    """psycopg prepares a statement run five times and PostgreSQL may then plan it once for any
    parameters, blind to how selective the LIKE pattern is (at 1M contacts: a scan of the tenant,
    2.5 s). A listing with `q` asks for plans made for its words; here plans would be generic."""
    database = migrated("contacts")
    with database.transaction() as session:
        session.execute(
            sa.text(
                "INSERT INTO contacts (id, tenant_id, given_name, family_name, email, email_key, phone, title,"
                " owner_id, lifecycle_stage, account_ids, tags, custom_fields, create_time, update_time, etag,"
                " search_text) SELECT lpad(n::text, 26, '0'), 'T', '', '', '', '', '', '', '', '', '[]', '[]', '{}',"
                " now(), now(), 'e', md5(n::text) FROM generate_series(1, 5000) AS n"
            )
        )
        session.execute(sa.text("ANALYZE contacts"))
        session.execute(sa.text("SELECT gin_clean_pending_list('ix_contacts_search_trgm')"))
        session.execute(
            sa.text(
                "DO $$BEGIN EXECUTE 'ALTER DATABASE ' || current_database() ||"
                " ' SET plan_cache_mode = force_generic_plan'; END$$"
            )
        )
    database.engine.dispose()  # new connections take the database's setting

    def plan(session) -> str:  # what a statement psycopg prepared gets: EXPLAIN EXECUTE of a PREPAREd one
        session.execute(sa.text("DEALLOCATE ALL"))
        session.execute(
            sa.text("PREPARE page(text) AS SELECT id FROM contacts WHERE tenant_id = 'T' AND search_text LIKE $1")
        )
        return "\n".join(session.execute(sa.text("EXPLAIN EXECUTE page('%lovelace%')")).scalars())

    with database.transaction() as session:
        assert "~~ $1" in plan(session)  # planned for any pattern (at 1M rows: a scan of the tenant)
        store.custom_plans(session)
        assert "~~ '%lovelace%'::text" in plan(session)  # planned for this one: the trigram index
    with database.transaction() as session:
        listing = store.Listing("", "", q="lovelace")
        assert store.page(session, "T", listing, None, 10) == []
        assert session.execute(sa.text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
