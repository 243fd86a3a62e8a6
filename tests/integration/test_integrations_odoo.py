"""The Odoo connector over real gRPC on PostgreSQL (integrations beside a real contacts service)
against the Odoo simulator, the contacts service's own events fed to the `integrations.odoo`
consumer as the bus would deliver them (the bus itself: tests/e2e/test_integrations_odoo.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import accounts_pb2, accounts_pb2_grpc, contacts_pb2, contacts_pb2_grpc
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import connections_pb2, connections_pb2_grpc
from crm.sales.v1 import events_pb2 as sales_events
from google.protobuf import field_mask_pb2
from google.type import money_pb2

from crmkit.config import Settings
from crmkit.events.consumer import Verdict
from crmkit.grpcserver import start_server
from crmkit.privacy import Identifiers
from crmkit.secretbox import new_key
from crmkit.tokens import Principal
from services.contacts.store import OUTBOX as CONTACTS_OUTBOX
from services.integrations import privacy
from services.integrations.module import build
from services.integrations.store import ExternalIdRow
from tests.integration.support_helpers import TOKENS, as_
from tests.simulators.base import Reply
from tests.simulators.odoo import OdooSimulator

ADMIN = Principal("TENANT_A", "apikey:root", frozenset({"admin"}))
KEY, LOGIN = "odoo-key-77", "bot@acme.example.com"
Conn = connections_pb2.Connection


class Running:
    def __init__(self, database, contacts_service) -> None:  # type: ignore[no-untyped-def]
        self.database = database
        self.contacts_db = contacts_service.database
        env = {
            "CRM_INTEGRATIONS_DATABASE_URL": database.url,
            "CRM_SECRET_KEYS": new_key(),
            "CRM_CONTACTS_ADDR": f"127.0.0.1:{contacts_service.port}",
            "CRM_LOG_FORMAT": "text",
        }
        self.module = build(Settings.from_env(env))
        self.module.tokens = TOKENS  # as the target runner does
        self.server = start_server(
            "integrations", self.module.registrations, self.module.grpc_services, "127.0.0.1:0", TOKENS
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.connections = connections_pb2_grpc.ConnectionsServiceStub(self.channel)
        self.contacts = contacts_pb2_grpc.ContactsServiceStub(contacts_service.channel)
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(contacts_service.channel)
        self.consumer = next(c for c in self.module.consumers if c.name == "integrations.odoo")
        self.delivered: set[str] = set()

    def deliver_contacts_events(self) -> list[str]:
        """Hand the contacts service's new events to the consumer, as the bus would; their types."""
        with self.contacts_db.transaction() as session:
            payloads = session.execute(sa.select(CONTACTS_OUTBOX.c.payload).order_by(CONTACTS_OUTBOX.c.id)).scalars()
            fresh = [Envelope.FromString(p) for p in payloads]
        handled = []
        for envelope in fresh:
            if envelope.id in self.delivered:
                continue
            self.delivered.add(envelope.id)
            assert self.consumer.handle(envelope.SerializeToString(), 1).verdict == Verdict.ACK
            handled.append(envelope.type.rsplit(".", 1)[-1])
        return handled

    def deliver(self, event: Any, tenant: str = "TENANT_A") -> None:
        envelope = Envelope(
            id=f"e-{len(self.delivered)}",
            type=event.DESCRIPTOR.full_name,
            source="sales",
            tenant=tenant,
            data=event.SerializeToString(),
        )
        self.delivered.add(envelope.id)
        assert self.consumer.handle(envelope.SerializeToString(), 1).verdict == Verdict.ACK

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0)
        self.module.database.dispose()


@pytest.fixture
def running(migrated, contacts_service) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    started = Running(migrated("integrations"), contacts_service)
    yield started
    started.stop()


@pytest.fixture
def odoo() -> Iterator[OdooSimulator]:
    server = OdooSimulator(login=LOGIN, api_key=KEY).start()
    yield server
    server.stop()


def create_connection(running: Running, server: OdooSimulator, **extra: Any) -> connections_pb2.Connection:
    fields: dict[str, Any] = {
        "type": Conn.ODOO,
        "display_name": "Odoo",
        "base_url": server.url,
        "database": server.database,
        "username": LOGIN,
        "api_key": KEY,
    }
    connection = Conn(**{**fields, **extra})
    request = connections_pb2.CreateConnectionRequest(connection=connection)
    return running.connections.CreateConnection(request, metadata=as_(ADMIN))


def sync(running: Running, connection_id: str, full: bool = False) -> connections_pb2.SyncRun:
    run = running.connections.SyncConnection(
        connections_pb2.SyncConnectionRequest(id=connection_id, full_refresh=full), metadata=as_(ADMIN)
    )
    assert run.status == connections_pb2.SyncRun.SUCCEEDED, run
    return run


def contacts(running: Running) -> dict[str, contacts_pb2.Contact]:
    found = running.contacts.ListContacts(contacts_pb2.ListContactsRequest(page_size=100), metadata=as_(ADMIN))
    return {c.email: c for c in found.contacts}


def partner_writes(server: OdooSimulator, partner_id: int) -> int:
    return sum(1 for r in server.seen("/json/2/res.partner/write") if r.json().get("ids") == [partner_id])


def letters(running: Running, connection_id: str) -> list[connections_pb2.DeadLetter]:
    request = connections_pb2.ListDeadLettersRequest(connection_id=connection_id)
    return list(running.connections.ListDeadLetters(request, metadata=as_(ADMIN)).dead_letters)


def replay(running: Running, connection_id: str, letter_id: str) -> connections_pb2.DeadLetter:
    request = connections_pb2.ReplayDeadLetterRequest(connection_id=connection_id, id=letter_id)
    return running.connections.ReplayDeadLetter(request, metadata=as_(ADMIN))


def test_partners_come_in_incrementally_once_and_refused_ones_are_replayable(
    running: Running, odoo: OdooSimulator
) -> None:
    acme = odoo.add("res.partner", name="Acme Ltd", is_company=True, website="https://www.acme.example", ref="A-1")
    ada = odoo.add("res.partner", name="Ada Lovelace", parent_id=acme, email="ada@acme.example", function="CTO")
    odoo.add("res.partner", name="Bob Stone", email="bob@stone.example", phone="+44 20 7946 0000")
    eve = odoo.add("res.partner", name="Eve Broken", email="eve at nowhere")
    mapping = connections_pb2.FieldMapping(
        stream="res.partner", external_field="ref", crm_field="industry", direction=connections_pb2.FieldMapping.INBOUND
    )
    conn = create_connection(running, odoo, field_mappings=[mapping])

    check = running.connections.CheckConnection(connections_pb2.CheckConnectionRequest(id=conn.id), metadata=as_(ADMIN))
    assert check.ok and [s.name for s in check.steps] == ["json2", "read"], check
    assert {r.headers["authorization"] for r in odoo.seen("/json/2/")} == {f"bearer {KEY}"}

    # Odoo down for longer than the retries last: the run fails, says why, and moves no cursor.
    down = Reply(503, {"name": "werkzeug.exceptions.ServiceUnavailable", "message": "upgrading"})
    odoo.fail_next("/json/2/res.partner/search_read", down, times=5)
    failed = running.connections.SyncConnection(connections_pb2.SyncConnectionRequest(id=conn.id), metadata=as_(ADMIN))
    assert failed.status == connections_pb2.SyncRun.FAILED and "upgrading" in failed.error, failed
    assert len(odoo.seen("/json/2/res.partner/search_read")) == 5 and contacts(running) == {}

    first = sync(running, conn.id)
    assert (first.fetched_count, first.created_count, first.failed_count) == (4, 3, 1), first
    people = contacts(running)
    assert set(people) == {"ada@acme.example", "bob@stone.example"}
    [account] = running.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(), metadata=as_(ADMIN)).accounts
    assert (account.name, account.domain, account.industry) == ("Acme Ltd", "acme.example", "A-1")
    ada_contact = people["ada@acme.example"]
    assert (ada_contact.given_name, ada_contact.family_name, ada_contact.title) == ("Ada", "Lovelace", "CTO")
    assert list(ada_contact.account_ids) == [account.id]

    again = sync(running, conn.id)
    assert (again.created_count, again.updated_count) == (0, 0) and again.fetched_count <= 4, again
    full = sync(running, conn.id, full=True)  # a full refresh rereads everything and still writes nothing new
    assert (full.fetched_count, full.created_count, full.updated_count) == (4, 0, 0), full
    odoo.tick()
    odoo.change("res.partner", ada, phone="+33 1 23 45 67 89")
    changed = sync(running, conn.id)
    # Eve again (written in the cursor's second, reread on purpose; still refused) and Ada's change.
    assert (changed.fetched_count, changed.updated_count, changed.failed_count) == (2, 1, 1), changed
    assert contacts(running)["ada@acme.example"].phone == "+33123456789"  # normalised by contacts

    # The contacts service's events about what the sync did are not sent back to Odoo.
    assert "ContactCreated" in running.deliver_contacts_events()
    assert partner_writes(odoo, ada) == 0 and len(odoo.all("res.partner")) == 4

    [letter] = letters(running, conn.id)  # one letter for Eve, however often she failed
    assert (letter.stream, letter.external_id) == ("res.partner", str(eve)) and "email" in letter.error
    still = replay(running, conn.id, letter.id)
    assert not still.HasField("resolve_time") and still.attempts == letter.attempts + 1
    odoo.change("res.partner", eve, email="eve@nowhere.example")
    fixed = replay(running, conn.id, letter.id)
    assert fixed.HasField("resolve_time") and "eve@nowhere.example" in contacts(running)


def test_a_partner_of_an_erased_person_is_not_imported_again(running: Running, odoo: OdooSimulator) -> None:
    grace = odoo.add("res.partner", name="Grace Hopper", email="grace@navy.example", phone="+1 202 555 0101")
    alan = odoo.add("res.partner", name="Alan Turing", email="alan@bletchley.example")
    conn = create_connection(running, odoo)
    sync(running, conn.id)
    person = contacts(running)["grace@navy.example"]

    # The person's erasure, as the privacy request reaches both services: contacts deletes her,
    # integrations pseudonymises what it holds and turns her partner's mapping into a tombstone.
    running.contacts.DeleteContact(contacts_pb2.DeleteContactRequest(id=person.id), metadata=as_(ADMIN))
    found = Identifiers.of([person.email], [person.phone], [f"{person.given_name} {person.family_name}"])
    with running.database.transaction() as session:
        counts = privacy.erase(session, "TENANT_A", person.id, found)
    assert counts["syncMappings"] == 1

    # Odoo still holds her partner and changes it later: neither an incremental sync nor a full
    # refresh brings her back, while a change to somebody else still comes in.
    odoo.tick()
    odoo.change("res.partner", grace, phone="+1 202 555 0199")
    odoo.change("res.partner", alan, phone="+44 20 7946 0001")
    later = sync(running, conn.id)
    full = sync(running, conn.id, full=True)
    assert (later.created_count, later.updated_count, full.created_count) == (0, 1, 0), (later, full)
    assert set(contacts(running)) == {"alan@bletchley.example"}
    assert contacts(running)["alan@bletchley.example"].phone == "+442079460001"
    assert letters(running, conn.id) == []


def test_crm_changes_become_partner_writes_with_retries_and_dead_letters(running: Running, odoo: OdooSimulator) -> None:
    acme = odoo.add("res.partner", name="Acme Ltd", is_company=True)
    conn = create_connection(running, odoo)
    sync(running, conn.id)
    running.deliver_contacts_events()
    [account] = running.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(), metadata=as_(ADMIN)).accounts

    cleo = running.contacts.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(
                given_name="Cleo", family_name="Park", email="cleo@acme.example", account_ids=[account.id]
            )
        ),
        metadata=as_(ADMIN),
    )
    running.deliver_contacts_events()
    [partner] = [p for p in odoo.all("res.partner") if p["email"] == "cleo@acme.example"]
    assert (partner["name"], partner["parent_id"], partner["is_company"]) == ("Cleo Park", acme, False)
    running.deliver_contacts_events()  # a redelivery creates nothing twice
    assert len([p for p in odoo.all("res.partner") if p["email"] == "cleo@acme.example"]) == 1

    def patch(**fields: str) -> None:
        running.contacts.UpdateContact(
            contacts_pb2.UpdateContactRequest(
                id=cleo.id,
                contact=contacts_pb2.Contact(**fields),
                update_mask=field_mask_pb2.FieldMask(paths=list(fields)),
            ),
            metadata=as_(ADMIN),
        )

    patch(title="Buyer")
    odoo.fail_next("/json/2/res.partner/write", Reply(429, {"message": "slow down"}, {"Retry-After": "1"}))
    running.deliver_contacts_events()
    assert odoo.get("res.partner", partner["id"])["function"] == "Buyer"
    assert partner_writes(odoo, partner["id"]) == 2  # refused once, then sent again after Retry-After
    # Odoo's copy of our own write comes back unchanged: nothing to do.
    odoo.tick()
    assert sync(running, conn.id).updated_count == 0

    outage = Reply(503, {"name": "werkzeug.exceptions.ServiceUnavailable", "message": "maintenance"})
    odoo.fail_next("/json/2/res.partner/write", outage, times=5)
    patch(title="Head buyer")
    running.deliver_contacts_events()
    [letter] = [d for d in letters(running, conn.id) if d.stream == "res.partner:out"]
    assert "maintenance" in letter.error and odoo.get("res.partner", partner["id"])["function"] == "Buyer"
    assert replay(running, conn.id, letter.id).HasField("resolve_time")
    assert odoo.get("res.partner", partner["id"])["function"] == "Head buyer"


def money(units: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="EUR", units=units)


def test_won_deals_and_accepted_quotes_become_one_sales_order(running: Running, odoo: OdooSimulator) -> None:
    acme = odoo.add("res.partner", name="Acme Ltd", is_company=True)
    conn = create_connection(running, odoo)
    sync(running, conn.id)
    [account] = running.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(), metadata=as_(ADMIN)).accounts
    deal = sales_events.OpportunitySnapshot(id="D1", name="Acme rollout", account_id=account.id, amount=money(1500))
    won = sales_events.OpportunityWon(opportunity=deal)
    running.deliver(won)
    [order] = odoo.all("sale.order")
    assert (order["partner_id"], order["client_order_ref"], order["amount_total"]) == (
        acme,
        "CRM opportunity:D1",
        1500.0,
    )
    running.deliver(won)  # redelivered: still one order
    assert len(odoo.all("sale.order")) == 1

    lines = [
        sales_events.QuoteLineSnapshot(sku="SEAT", name="Seat", quantity="12", unit_price=money(100)),
        sales_events.QuoteLineSnapshot(name="Onboarding", quantity="1", unit_price=money(300)),
    ]
    accepted = sales_events.QuoteAccepted(
        quote_id="Q1", quote_number="Q-0001", opportunity_id="D1", account_id=account.id, lines=lines
    )
    running.deliver(accepted)
    running.deliver(accepted)
    [order] = odoo.all("sale.order")
    got = sorted(
        (odoo.get("sale.order.line", i)["name"], odoo.get("sale.order.line", i)["product_uom_qty"])
        for i in order["order_line"]
    )
    assert got == [("Onboarding", 1.0), ("Seat", 12.0)] and order["amount_total"] == 1500.0
    assert [p["default_code"] for p in odoo.all("product.product") if p["name"] == "Seat"] == ["SEAT"]

    # A quote without a deal, for a contact Odoo does not know yet: the contact goes first.
    dora = running.contacts.CreateContact(
        contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(given_name="Dora", email="dora@x.example")),
        metadata=as_(ADMIN),
    )
    odoo.fail_next(
        "/json/2/sale.order/create", Reply(422, {"name": "odoo.exceptions.ValidationError", "message": "no"})
    )
    solo = sales_events.QuoteAccepted(quote_id="Q2", quote_number="Q-0002", contact_id=dora.id, lines=lines[:1])
    running.deliver(solo)
    [letter] = letters(running, conn.id)
    assert letter.stream == "sale.order:out" and letter.external_id == "quote:Q2"
    assert replay(running, conn.id, letter.id).HasField("resolve_time")
    [second] = [o for o in odoo.all("sale.order") if o["client_order_ref"] == "CRM quote:Q2"]
    assert odoo.get("res.partner", second["partner_id"])["email"] == "dora@x.example"
    with running.database.transaction() as session:
        kinds = sorted(session.execute(sa.select(ExternalIdRow.object_type)).scalars())
    assert kinds == ["account", "contact", "sale.order", "sale.order"]


def test_an_older_odoo_is_reached_over_the_legacy_json_rpc(running: Running) -> None:
    legacy = OdooSimulator(database="old", login=LOGIN, api_key=KEY, version=17).start()
    try:
        legacy.add("res.partner", name="Grace Hopper", email="grace@navy.example")
        conn = create_connection(running, legacy)
        check = running.connections.CheckConnection(
            connections_pb2.CheckConnectionRequest(id=conn.id), metadata=as_(ADMIN)
        )
        assert check.ok and [(s.name, s.ok) for s in check.steps] == [
            ("json2", False),
            ("authenticate", True),
            ("read", True),
        ], check
        assert sync(running, conn.id).created_count == 1 and "grace@navy.example" in contacts(running)
        running.contacts.CreateContact(
            contacts_pb2.CreateContactRequest(
                contact=contacts_pb2.Contact(given_name="Alan", family_name="Turing", email="alan@b.example")
            ),
            metadata=as_(ADMIN),
        )
        running.deliver_contacts_events()
        assert [p["name"] for p in legacy.all("res.partner") if p["email"] == "alan@b.example"] == ["Alan Turing"]
        calls = [r.json()["params"] for r in legacy.seen("/jsonrpc")]
        assert {"service": "common", "method": "authenticate", "args": ["old", LOGIN, KEY, {}]} in calls
        assert any(c["method"] == "execute_kw" and c["args"][3:5] == ["res.partner", "create"] for c in calls)

        wrong = create_connection(running, legacy, api_key="not-the-key")
        refused = running.connections.CheckConnection(
            connections_pb2.CheckConnectionRequest(id=wrong.id), metadata=as_(ADMIN)
        )
        assert not refused.ok and refused.steps[-1].name == "authenticate" and "not-the-key" not in str(refused)
    finally:
        legacy.stop()
