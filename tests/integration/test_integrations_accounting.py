"""QuickBooks Online and Xero connectors (issue #7 point 4) against local simulators of their
documented protocols (tests/simulators), with the integrations and contacts services over real gRPC
on PostgreSQL: invoices from won deals and accepted quotes, customers both ways, payments back as
PaymentReceived, incremental sync with cursors, rate limits, and signed webhooks."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import accounts_pb2, accounts_pb2_grpc, contacts_pb2, contacts_pb2_grpc
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import accounting_pb2, accounting_pb2_grpc, connections_pb2, events_pb2
from crm.sales.v1 import events_pb2 as sales
from google.api import httpbody_pb2
from google.protobuf import field_mask_pb2
from google.type import money_pb2

from crmkit.config import Settings
from crmkit.events.consumer import EventConsumer
from crmkit.grpcserver import start_server
from crmkit.ids import new_id
from crmkit.secretbox import new_key
from crmkit.tokens import Principal
from services.integrations.accounting.connector import AccountingWorker
from services.integrations.module import build
from services.integrations.store import (
    OUTBOX,
    AccountingInvoiceRow,
    AccountingPaymentRow,
    AccountingPushRow,
    SyncCursorRow,
    SyncRequestRow,
)
from tests.integration.sales_helpers import TOKENS, as_, code_of, run_service, violations
from tests.simulators.quickbooks import QuickBooksSimulator
from tests.simulators.vendor import sign
from tests.simulators.xero import XeroSimulator

SCOPES = frozenset({"integrations:read", "integrations:write", "contacts:read", "contacts:write"})
ADMIN_A = Principal("TENANT_A", "apikey:acct", SCOPES)
VENDOR = Principal.anonymous("203.0.113.9")  # what the gateway makes of a webhook: no credentials
Conn = connections_pb2.Connection


class Accounting:
    """The integrations service (its gRPC server, consumers and accounting worker) beside contacts."""

    def __init__(self, migrated: Any) -> None:
        self.contacts, self._stop_contacts = run_service("contacts", migrated("contacts"))
        self.database = migrated("integrations")
        settings = Settings.from_env(
            {
                "CRM_INTEGRATIONS_DATABASE_URL": self.database.url,
                "CRM_SECRET_KEYS": new_key(),
                "CRM_CONTACTS_ADDR": f"127.0.0.1:{self.contacts.port}",
                "CRM_LOG_FORMAT": "text",
            }
        )
        self.module = build(settings)
        self.module.tokens = TOKENS  # as the target runner does
        self.server = start_server(
            "integrations", self.module.registrations, self.module.grpc_services, "127.0.0.1:0", TOKENS
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        from crm.integrations.v1 import connections_pb2_grpc

        self.connections = connections_pb2_grpc.ConnectionsServiceStub(self.channel)
        self.webhooks = accounting_pb2_grpc.AccountingWebhooksServiceStub(self.channel)
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(self.contacts.channel)
        self.people = contacts_pb2_grpc.ContactsServiceStub(self.contacts.channel)
        self.worker: AccountingWorker = next(w for n, w in self.module.workers if n == "accounting").__self__  # type: ignore[attr-defined]

    def consumer(self, name: str) -> EventConsumer:
        return next(c for c in self.module.consumers if c.name == name)

    def deliver(self, name: str, message: Any, tenant: str = "TENANT_A") -> None:
        envelope = Envelope(
            id=new_id(),
            type=message.DESCRIPTOR.full_name,
            source="sales",
            tenant=tenant,
            subject="s",
            data=message.SerializeToString(),
        )
        envelope.time.GetCurrentTime()
        outcome = self.consumer(name).handle(envelope.SerializeToString(), 0)
        assert outcome.verdict.value == "ack", outcome

    def events(self, kind: str) -> list[Any]:
        with self.database.transaction() as session:
            rows = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars()
            envelopes = [e for e in (Envelope.FromString(p) for p in rows) if e.type.endswith("." + kind)]
        message = getattr(events_pb2, kind)
        return [message.FromString(e.data) for e in envelopes]

    def rows(self, table: Any) -> list[Any]:
        with self.database.transaction() as session:
            order = table.id if hasattr(table, "id") else table.connection_id
            return list(session.scalars(sa.select(table).order_by(order)))

    def push(self) -> int:
        """The accounting worker writes what the consumers queued (as its loop does on waking)."""
        return self.worker.books.push_due()

    def run_requested_syncs(self) -> None:
        self.worker.tick(threading.Event())

    def sync(self, connection_id: str) -> connections_pb2.SyncRun:
        return self.connections.SyncConnection(
            connections_pb2.SyncConnectionRequest(id=connection_id), metadata=as_(ADMIN_A)
        )

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0)
        self.module.database.dispose()
        self._stop_contacts()


@pytest.fixture
def accounting(migrated: Any) -> Iterator[Accounting]:
    running = Accounting(migrated)
    yield running
    running.stop()


@pytest.fixture
def qbo() -> Iterator[QuickBooksSimulator]:
    simulator = QuickBooksSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def xero() -> Iterator[XeroSimulator]:
    simulator = XeroSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


def quickbooks_connection(accounting: Accounting, sim: QuickBooksSimulator, **extra: Any) -> str:
    _, refresh = sim.grant(sim.realm_id)
    connection = Conn(
        type=Conn.QUICKBOOKS,
        display_name="Books",
        base_url=sim.url,
        realm_id=sim.realm_id,
        oauth2=connections_pb2.OAuth2(
            client_id=sim.client_id, client_secret=sim.client_secret, refresh_token=refresh, token_url=sim.token_url
        ),
        webhook_key=sim.webhook_key,
        **extra,
    )
    created = accounting.connections.CreateConnection(
        connections_pb2.CreateConnectionRequest(connection=connection), metadata=as_(ADMIN_A)
    )
    assert created.has_webhook_key and created.webhook_key == ""
    return str(created.id)


def xero_connection(accounting: Accounting, sim: XeroSimulator) -> str:
    _, refresh = sim.grant(sim.tenant_id)
    connection = Conn(
        type=Conn.XERO,
        display_name="Xero",
        base_url=sim.url,
        xero_tenant_id=sim.tenant_id,
        oauth2=connections_pb2.OAuth2(
            client_id=sim.client_id, client_secret=sim.client_secret, refresh_token=refresh, token_url=sim.token_url
        ),
        webhook_key=sim.webhook_key,
    )
    created = accounting.connections.CreateConnection(
        connections_pb2.CreateConnectionRequest(connection=connection), metadata=as_(ADMIN_A)
    )
    return str(created.id)


def customer_in_crm(accounting: Accounting, name: str = "Acme Corp") -> tuple[str, str]:
    account = accounting.accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name=name, domain="acme.example.com")),
        metadata=as_(ADMIN_A),
    )
    contact = accounting.people.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(
                given_name="Ada", family_name="Lovelace", email="ada@acme.example.com", account_ids=[account.id]
            )
        ),
        metadata=as_(ADMIN_A),
    )
    return str(account.id), str(contact.id)


def won(opportunity_id: str, contact_id: str, account_id: str, units: int = 1200) -> sales.OpportunityWon:
    snapshot = sales.OpportunitySnapshot(
        id=opportunity_id,
        name="Big deal",
        stage_category="won",
        amount=money_pb2.Money(currency_code="USD", units=units),
        contact_id=contact_id,
        account_id=account_id,
    )
    return sales.OpportunityWon(opportunity=snapshot, reason="fit")


def accepted(quote_id: str, opportunity_id: str, contact_id: str, account_id: str) -> sales.QuoteAccepted:
    line = sales.QuoteLineSnapshot(
        name="Licence",
        sku="LIC",
        quantity="3",
        unit_price=money_pb2.Money(currency_code="USD", units=400),
        net_amount=money_pb2.Money(currency_code="USD", units=1200),
        tax_amount=money_pb2.Money(currency_code="USD", units=228),
    )
    return sales.QuoteAccepted(
        quote_id=quote_id,
        quote_number="Q-0007",
        opportunity_id=opportunity_id,
        contact_id=contact_id,
        account_id=account_id,
        lines=[line],
        grand_total=money_pb2.Money(currency_code="USD", units=1428),
    )


def webhook(accounting: Accounting, connection_id: str, body: bytes, header: str, signature: str | None) -> Any:
    metadata = as_(VENDOR) + ([(header, signature)] if signature is not None else [])
    request = accounting_pb2.ReceiveWebhookRequest(
        connection_id=connection_id, body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )
    return accounting.webhooks.ReceiveWebhook(request, metadata=metadata)


def test_a_won_deal_is_invoiced_once_in_quickbooks_and_its_payment_comes_back_through_a_signed_webhook(
    accounting: Accounting, qbo: QuickBooksSimulator
) -> None:
    import json

    account_id, contact_id = customer_in_crm(accounting)
    connection_id = quickbooks_connection(accounting, qbo)

    accounting.deliver("integrations.accounting-invoices", won("OPP1", contact_id, account_id))
    accounting.deliver("integrations.accounting-invoices", won("OPP1", contact_id, account_id))  # again: queued
    assert accounting.push() == 1
    accounting.deliver("integrations.accounting-invoices", accepted("Q1", "OPP1", contact_id, account_id))
    assert accounting.push() == 0  # the opportunity is invoiced already

    [customer] = qbo.find("Customer", DisplayName="Acme Corp")
    assert customer["PrimaryEmailAddr"] == {"Address": "ada@acme.example.com"}
    [invoice] = qbo.find("Invoice")
    assert invoice["CustomerRef"]["value"] == customer["Id"] and invoice["TotalAmt"] == 1200.0
    assert [ln["Description"] for ln in invoice["Line"] if "Description" in ln] == ["Big deal"]
    assert len(qbo.calls("POST", "/invoice")) == 1
    assert "requestid=" in qbo.calls("POST", "/invoice")[0].path  # QuickBooks' idempotency key
    [created] = accounting.events("InvoiceCreated")
    assert (created.external_system, created.external_id, created.invoice_number) == (
        "quickbooks",
        invoice["Id"],
        invoice["DocNumber"],
    )
    assert (created.contact_id, created.account_id, created.opportunity_id) == (contact_id, account_id, "OPP1")
    assert (created.total.currency_code, created.total.units) == ("USD", 1200)

    # The bookkeeper records a payment; QuickBooks calls the webhook.
    payment = qbo.pay(invoice["Id"], "500")
    body = json.dumps(qbo.notification(("Payment", payment["Id"], "Create"))).encode()
    for signature in (None, sign("not-the-key", body), sign(qbo.webhook_key, body + b" ")):
        failed = code_of(lambda s=signature: webhook(accounting, connection_id, body, "intuit-signature", s))
        assert failed == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: webhook(accounting, "01NOSUCHCONNECTION", body, "intuit-signature", "x")) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert accounting.rows(SyncRequestRow) == [] and accounting.events("PaymentReceived") == []

    answer = webhook(accounting, connection_id, body, "intuit-signature", sign(qbo.webhook_key, body))
    assert answer.data == b""
    [request] = accounting.rows(SyncRequestRow)
    assert request.connection_id == connection_id and request.notification_count == 1
    accounting.run_requested_syncs()
    assert accounting.rows(SyncRequestRow) == []

    [paid] = accounting.events("PaymentReceived")
    assert (paid.invoice_id, paid.contact_id, paid.account_id) == (created.invoice_id, contact_id, account_id)
    assert (paid.amount.currency_code, paid.amount.units, paid.external_system) == ("USD", 500, "quickbooks")
    [stored] = accounting.rows(AccountingPaymentRow)
    assert stored.amount_minor == 50000 and stored.invoice_id == created.invoice_id
    [invoice_row] = accounting.rows(AccountingInvoiceRow)
    assert invoice_row.balance_minor == 70000  # the invoice's new balance came with the sync

    # The first sync read everything (query paging); the next ones ask CDC from the stored cursors.
    assert qbo.calls("GET", "/query") and not qbo.calls("GET", "/cdc")
    with accounting.database.transaction() as session:
        cursors = {r.stream: r.value for r in session.scalars(sa.select(SyncCursorRow))}
    assert set(cursors) == {"customers", "invoices", "payments"} and all("changed_since" in v for v in cursors.values())
    again = accounting.sync(connection_id)
    assert again.status == connections_pb2.SyncRun.SUCCEEDED and again.created_count == 0
    assert len(qbo.calls("GET", "/cdc")) == 3 and len(accounting.events("PaymentReceived")) == 1
    runs = accounting.connections.ListSyncRuns(
        connections_pb2.ListSyncRunsRequest(connection_id=connection_id), metadata=as_(ADMIN_A)
    )
    assert [r.trigger for r in runs.sync_runs] == ["manual", "webhook"]


def test_quickbooks_customers_page_in_as_accounts_through_throttling_and_renames_go_out_under_synctoken(
    accounting: Accounting, qbo: QuickBooksSimulator
) -> None:
    for i in range(105):
        qbo.add("Customer", {"DisplayName": f"Customer {i:03d}", "CompanyName": f"Company {i:03d}"})
    connection_id = quickbooks_connection(accounting, qbo)
    qbo.throttle_next(2)  # QuickBooks' 429 ThrottleExceeded, no Retry-After: jittered back-off

    first = accounting.sync(connection_id)
    assert first.status == connections_pb2.SyncRun.SUCCEEDED, first.error
    assert (first.created_count, first.failed_count) == (105, 0)
    assert qbo.throttled == 2
    pages = [c.path for c in qbo.calls("GET", "/query") if "Customer" in c.path and "STARTPOSITION" in c.path]
    assert any("STARTPOSITION+1+" in p for p in pages) and any("STARTPOSITION+101+" in p for p in pages)
    made = accounting.accounts.ListAccounts(accounts_pb2.ListAccountsRequest(page_size=200), metadata=as_(ADMIN_A))
    assert sorted(a.name for a in made.accounts)[:2] == ["Company 000", "Company 001"] and len(made.accounts) == 105
    assert all(a.external_id.startswith(f"quickbooks:{connection_id}:") for a in made.accounts)

    qbo.add("Customer", {"DisplayName": "Late customer"})
    second = accounting.sync(connection_id)
    # CDC from the cursor (QuickBooks' clock less a second of overlap: what changed in that second is
    # read again and skipped through the external-id map).
    assert second.created_count == 1 and len(qbo.calls("GET", "/cdc")) == 3
    assert (
        len(
            accounting.accounts.ListAccounts(
                accounts_pb2.ListAccountsRequest(page_size=200), metadata=as_(ADMIN_A)
            ).accounts
        )
        == 106
    )

    # The CRM renames an account QuickBooks knows; someone edited the customer meanwhile.
    target = next(a for a in made.accounts if a.name == "Company 007")
    customer_id = target.external_id.rsplit(":", 1)[1]
    qbo.concurrent_edits = 1
    renamed = accounts_pb2.Account(id=target.id, name="Company 007 Ltd")
    accounting.deliver(
        "integrations.accounting-customers",
        contacts_events.AccountUpdated(account=renamed, changed_fields=field_mask_pb2.FieldMask(paths=["name"])),
    )
    assert accounting.push() == 1
    assert qbo.stale_faults == 1  # Stale Object Error 5010, then read again and saved
    assert qbo.objects["Customer"][customer_id]["DisplayName"] == "Company 007 Ltd"
    assert qbo.objects["Customer"][customer_id]["SyncToken"] == "2"


def test_a_vendor_refusal_is_a_dead_letter_replayed_through_the_api(
    accounting: Accounting, qbo: QuickBooksSimulator
) -> None:
    account_id, contact_id = customer_in_crm(accounting, "Refused Inc")
    connection_id = quickbooks_connection(accounting, qbo)
    del qbo.objects["Item"]["1"]  # no Service item to invoice with
    accounting.deliver("integrations.accounting-invoices", won("OPP9", contact_id, account_id))
    assert accounting.push() == 1  # a 400 from QuickBooks is final at once: no retries
    assert accounting.push() == 0
    assert qbo.find("Invoice") == [] and accounting.events("InvoiceCreated") == []
    letters = accounting.connections.ListDeadLetters(
        connections_pb2.ListDeadLettersRequest(connection_id=connection_id), metadata=as_(ADMIN_A)
    ).dead_letters
    [letter] = letters
    assert letter.stream == "invoices:out" and letter.external_id == "opportunity:OPP9" and "Service" in letter.error

    qbo.objects["Item"]["1"] = {"Id": "1", "Name": "Services", "Type": "Service", "SyncToken": "0"}
    replayed = accounting.connections.ReplayDeadLetter(
        connections_pb2.ReplayDeadLetterRequest(connection_id=connection_id, id=letter.id), metadata=as_(ADMIN_A)
    )
    assert replayed.HasField("resolve_time") and replayed.attempts == 2
    assert accounting.push() == 1  # the replay queued the write again
    assert len(qbo.find("Invoice")) == 1 and len(accounting.events("InvoiceCreated")) == 1


def test_xero_invoices_authorised_with_an_idempotency_key_and_payments_follow_signed_events(
    accounting: Accounting, xero: XeroSimulator
) -> None:
    import json

    account_id, contact_id = customer_in_crm(accounting, "Kiwi Ltd")
    connection_id = xero_connection(accounting, xero)
    accounting.deliver("integrations.accounting-invoices", accepted("Q5", "OPP5", contact_id, account_id))
    accounting.deliver("integrations.accounting-invoices", won("OPP5", contact_id, account_id))  # same deal: nothing
    assert accounting.push() == 1

    [invoice] = list(xero.objects["invoices"].values())
    assert invoice["Status"] == "AUTHORISED" and invoice["Contact"]["Name"] == "Kiwi Ltd"
    assert (invoice["Total"], invoice["TotalTax"], invoice["Reference"]) == (1428.0, 228.0, "Q-0007")
    [put] = xero.calls("PUT", "/Invoices")
    assert put.headers["idempotency-key"] and put.headers["xero-tenant-id"] == xero.tenant_id
    [created] = accounting.events("InvoiceCreated")
    assert (created.quote_id, created.invoice_number, created.total.units) == ("Q5", invoice["InvoiceNumber"], 1428)

    # "Intent to receive": Xero checks that a signed empty event list is 200 and a wrong one 401.
    intent = json.dumps(xero.intent_to_receive()).encode()
    assert webhook(accounting, connection_id, intent, "x-xero-signature", sign(xero.webhook_key, intent)).data == b""
    assert code_of(lambda: webhook(accounting, connection_id, intent, "x-xero-signature", sign("k", intent))) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert accounting.rows(SyncRequestRow) == []  # no event: nothing to sync

    xero.pay(invoice["InvoiceID"], "428")
    other_org = json.dumps(xero.notification(("INVOICE", invoice["InvoiceID"], "UPDATE"), tenant_id="another-org"))
    webhook(
        accounting, connection_id, other_org.encode(), "x-xero-signature", sign(xero.webhook_key, other_org.encode())
    )
    assert accounting.rows(SyncRequestRow) == []  # signed, but about another organisation
    event = json.dumps(xero.notification(("INVOICE", invoice["InvoiceID"], "UPDATE"))).encode()
    webhook(accounting, connection_id, event, "x-xero-signature", sign(xero.webhook_key, event))
    xero.throttle_next(1)  # 429 with Retry-After and X-Rate-Limit-Problem: minute
    accounting.run_requested_syncs()

    [paid] = accounting.events("PaymentReceived")
    assert (paid.invoice_id, paid.contact_id, paid.account_id) == (created.invoice_id, contact_id, account_id)
    assert (paid.amount.units, paid.external_system) == (428, "xero") and xero.throttled == 1
    [row] = accounting.rows(AccountingInvoiceRow)
    assert row.balance_minor == 100000

    # Xero's access tokens live 30 minutes: an expired one answers 401, the client refreshes (the
    # refresh token rotates) and goes on.
    xero.expire_access_tokens()
    refreshes = len(xero.calls("POST", "/connect/token"))
    # Incremental: the next sync sends If-Modified-Since from the cursors and records nothing twice.
    before = len(xero.requests)
    again = accounting.sync(connection_id)
    assert again.status == connections_pb2.SyncRun.SUCCEEDED and again.created_count == 0
    reads = [r for r in xero.requests[before:] if r.method == "GET"]
    assert reads and all("if-modified-since" in r.headers for r in reads)
    assert len(accounting.events("PaymentReceived")) == 1
    assert len(xero.calls("POST", "/connect/token")) == refreshes + 1


def test_webhook_keys_are_write_only_and_refused_where_unused(accounting: Accounting, qbo: QuickBooksSimulator) -> None:
    connection_id = quickbooks_connection(accounting, qbo)
    got = accounting.connections.GetConnection(
        connections_pb2.GetConnectionRequest(id=connection_id), metadata=as_(ADMIN_A)
    )
    assert got.has_webhook_key and qbo.webhook_key.encode() not in got.SerializeToString()
    odoo = Conn(
        type=Conn.ODOO,
        display_name="Odoo",
        base_url="https://acme.odoo.com",
        database="acme",
        username="admin",
        api_key="k",
        webhook_key="w",
    )
    refused = violations(
        lambda: accounting.connections.CreateConnection(
            connections_pb2.CreateConnectionRequest(connection=odoo), metadata=as_(ADMIN_A)
        )
    )
    assert refused == {"webhook_key"}


def test_an_erasure_pseudonymises_invoices_and_payments_and_keeps_them(
    accounting: Accounting, qbo: QuickBooksSimulator
) -> None:
    from crmkit.privacy import Identifiers
    from services.integrations import privacy  # integrations' participant, which covers accounting
    from services.integrations.accounting.privacy import pseudonym

    account_id, contact_id = customer_in_crm(accounting, "Erased Ltd")
    quickbooks_connection(accounting, qbo)
    accounting.deliver("integrations.accounting-invoices", won("OPP3", contact_id, account_id))
    accounting.push()
    [invoice] = qbo.find("Invoice")
    qbo.pay(invoice["Id"], "1200")
    with accounting.database.transaction() as session:
        connection_id = session.scalars(sa.select(AccountingInvoiceRow.connection_id)).one()
    accounting.sync(connection_id)
    found = Identifiers.of(["ada@acme.example.com"], [], ["Ada Lovelace"])
    with accounting.database.transaction() as session:
        exported = privacy.export(session, "TENANT_A", contact_id, found)
    assert [i["invoice_number"] for i in exported["invoices"]] == [invoice["DocNumber"]]
    assert [p["amount_minor"] for p in exported["payments"]] == [120000]

    with accounting.database.transaction() as session:
        counts = privacy.erase(session, "TENANT_A", contact_id, found)
    assert counts["invoicesPseudonymised"] == 1 and counts["paymentsPseudonymised"] == 1
    [kept] = accounting.rows(AccountingInvoiceRow)
    [paid] = accounting.rows(AccountingPaymentRow)
    assert kept.contact_id == paid.contact_id == pseudonym("TENANT_A", contact_id) != contact_id
    assert (kept.total_minor, kept.invoice_number, kept.account_id) == (120000, invoice["DocNumber"], account_id)
    with accounting.database.transaction() as session:
        after = privacy.export(session, "TENANT_A", contact_id, found)
    assert (after["invoices"], after["payments"]) == ([], [])


def test_a_vendor_outage_is_retried_later_with_back_off(accounting: Accounting, qbo: QuickBooksSimulator) -> None:
    from tests.simulators.base import Reply

    account_id, contact_id = customer_in_crm(accounting, "Patient Co")
    quickbooks_connection(accounting, qbo)
    accounting.deliver("integrations.accounting-invoices", won("OPP4", contact_id, account_id))
    outage = Reply(503, {"Fault": {"Error": [{"Message": "Service Unavailable", "code": "503"}], "type": "SERVICE"}})
    qbo.fail_next("/v3/company", outage, times=5)  # every attempt the shared client makes this time
    assert accounting.push() == 1
    [queued] = accounting.rows(AccountingPushRow)
    assert queued.attempts == 1 and "503" in queued.error and queued.next_attempt_time > queued.create_time
    assert accounting.push() == 0  # not due yet
    later = queued.next_attempt_time + dt.timedelta(seconds=1)
    assert accounting.worker.books.push_due(now=later) == 1
    assert accounting.rows(AccountingPushRow) == [] and len(qbo.find("Invoice")) == 1
    assert len(accounting.events("InvoiceCreated")) == 1


def test_xero_contacts_page_in_and_the_cursor_moves_with_each_page(accounting: Accounting, xero: XeroSimulator) -> None:
    for i in range(103):
        xero.add_contact(f"Org {i:03d}", f"ap{i}@org{i}.example.com")
    connection_id = xero_connection(accounting, xero)
    first = accounting.sync(connection_id)
    assert first.status == connections_pb2.SyncRun.SUCCEEDED and first.created_count == 103, first.error
    pages = [r for r in xero.calls("GET", "/Contacts") if "page=" in r.path]
    assert ["page=1" in pages[0].path, "page=2" in pages[1].path] == [True, True]
    assert all("order=UpdatedDateUTC+ASC" in r.path for r in pages)
    assert "if-modified-since" not in pages[0].headers  # no cursor yet: everything
    with accounting.database.transaction() as session:
        cursor = session.get(SyncCursorRow, (connection_id, "customers"))
        assert cursor is not None
        newest = max(c["UpdatedDateUTC"] for c in xero.objects["contacts"].values())
    from services.integrations.accounting.xero import parse_net_date

    assert cursor.value == {"modified_since": parse_net_date(newest).isoformat()}  # type: ignore[union-attr]

    xero.add_contact("Org late")
    second = accounting.sync(connection_id)
    assert second.created_count == 1
    latest = [r for r in xero.calls("GET", "/Contacts") if "page=" in r.path][-1]
    assert latest.headers["if-modified-since"] == parse_net_date(newest).replace(microsecond=0, tzinfo=None).isoformat()  # type: ignore[union-attr]


def test_a_webhook_key_is_rotated_in_place_and_the_old_one_stops_verifying(
    accounting: Accounting, qbo: QuickBooksSimulator
) -> None:
    import json

    connection_id = quickbooks_connection(accounting, qbo)
    old_key = qbo.webhook_key
    updated = accounting.connections.UpdateConnection(
        connections_pb2.UpdateConnectionRequest(
            id=connection_id,
            connection=Conn(webhook_key="rotated-verifier-token"),
            update_mask=field_mask_pb2.FieldMask(paths=["webhook_key"]),
        ),
        metadata=as_(ADMIN_A),
    )
    assert updated.has_webhook_key and updated.oauth2.has_refresh_token  # the other secrets stay
    body = json.dumps(qbo.notification(("Customer", "1", "Update"))).encode()
    stale = code_of(lambda: webhook(accounting, connection_id, body, "intuit-signature", sign(old_key, body)))
    assert stale == grpc.StatusCode.UNAUTHENTICATED
    webhook(accounting, connection_id, body, "intuit-signature", sign("rotated-verifier-token", body))
    assert [r.connection_id for r in accounting.rows(SyncRequestRow)] == [connection_id]
