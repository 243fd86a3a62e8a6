"""The accounting connectors' use cases (docs/adr/0059, 0060): vendor-neutral, over a `Vendor`.

- **Invoicing** (consumer `integrations.accounting-invoices`): a won deal or an accepted quote is
  invoiced once per opportunity and accounting connection. The consumer only queues the write
  (`accounting_pushes`, unique per connection, kind and key; skipped when invoiced or queued
  already); the accounting worker writes it outside any transaction (vendor calls may wait on
  Retry-After; SQLite's single writer must not be held meanwhile). The customer is found through
  the external-id map or created in the vendor from the CRM account (or the contact, without one)
  read over contacts' gRPC; the invoice is created with an idempotency key derived from connection
  and source, so a retry or a crash after the vendor answered never makes a second one. The row
  (`accounting_invoices`, unique by connection and source key), the external ids and
  `InvoiceCreated` commit together. Failures are retried with back-off (a 4xx refusal is final at
  once), then become a dead letter of `invoices:out`; replaying it queues the write again.
- **Sync** (the connector's `sync`): per stream (customers, invoices, payments, in that order),
  each page's records and the stream's cursor commit in one transaction. New vendor customers
  become CRM accounts (idempotent by the account's external id); invoices made in the vendor are
  recorded with `InvoiceCreated`; every payment on a known invoice is recorded once (external-id
  map) with `PaymentReceived` (the contacts timeline files it on the contact and the account).
  A record that fails is a dead letter of its stream; the page goes on.
- **Customer updates out** (consumer `integrations.accounting-customers`): an account renamed in
  the CRM is queued for, then renamed in, each vendor it is mapped in (QuickBooks under its
  SyncToken), the same way (dead letters of `customers:out`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import events_pb2 as integrations
from crm.sales.v1 import events_pb2 as sales
from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import NotFound
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from services.integrations.accounting import domain
from services.integrations.accounting.domain import (
    Customer,
    CustomerDetails,
    Invoice,
    InvoiceDraft,
    Page,
    Payment,
    QuoteLine,
)
from services.integrations.connections import (
    Connections,
    Credentials,
    DeadLetter,
    SyncRun,
    add_dead_letter,
    claim_external_id,
    external_id_of,
    get_cursor,
    internal_id_of,
    put_cursor,
)
from services.integrations.store import (
    INBOX,
    AccountingInvoiceRow,
    AccountingPaymentRow,
    AccountingPushRow,
    ConnectionRow,
)

log = logging.getLogger(__name__)

ACCOUNTING_TYPES = ("QUICKBOOKS", "XERO")
INVOICES_CONSUMER = "integrations.accounting-invoices"
CUSTOMERS_CONSUMER = "integrations.accounting-customers"
# Object types in the external-id map.
CUSTOMER, INVOICE, PAYMENT = "accounting.customer", "accounting.invoice", "accounting.payment"
REQUEST_IDS = uuid.UUID("6f1d4a52-6a8e-4b57-9b43-0c5e2f1d7a10")


class Vendor(Protocol):
    system: str
    type: str

    def check_read(self, credentials: Credentials) -> str: ...
    def create_customer(self, credentials: Credentials, details: CustomerDetails) -> str: ...
    def update_customer(self, credentials: Credentials, external_id: str, details: CustomerDetails) -> None: ...
    def create_invoice(
        self, credentials: Credentials, draft: InvoiceDraft, customer_id: str, request_id: str
    ) -> Invoice: ...
    def read(self, credentials: Credentials, stream: str, cursor: dict[str, Any], full: bool) -> Iterator[Page]: ...


class CustomerDirectory(Protocol):
    """The CRM side of customers: contacts' gRPC, acting for the tenant."""

    def details(self, tenant_id: str, account_id: str, contact_id: str) -> CustomerDetails: ...
    def account_for(self, tenant_id: str, details: CustomerDetails, external_id: str) -> str: ...


def _minor(amount: Decimal, currency: str) -> int:
    return int(domain.on_grid(amount, currency).scaleb(_places(currency)))


def _places(currency: str) -> int:
    return -domain.on_grid(Decimal(1), currency).as_tuple().exponent  # type: ignore[operator]


def _money(amount: Decimal, currency: str) -> money_pb2.Money:
    units, nanos = domain.units_nanos(domain.on_grid(amount, currency) if currency else amount)
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def _from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-_places(currency))


def _date(value: dt.date | None) -> date_pb2.Date | None:
    return None if value is None else date_pb2.Date(year=value.year, month=value.month, day=value.day)


def _stamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def request_id(connection_id: str, source_key: str) -> str:
    """The same for every attempt at one invoice: the vendor answers a repeat with the first result."""
    return str(uuid.uuid5(REQUEST_IDS, f"{connection_id}/{source_key}"))


def draft_to_dict(draft: InvoiceDraft) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal | dt.date):
            return str(value)
        return value

    data = dataclasses.asdict(draft)
    data["lines"] = [{k: plain(v) for k, v in line.items()} for line in data["lines"]]
    return {k: plain(v) for k, v in data.items()}


def draft_from_dict(data: dict[str, Any]) -> InvoiceDraft:
    lines = tuple(
        domain.InvoiceLine(
            ln["description"],
            Decimal(ln["quantity"]),
            Decimal(ln["unit_price"]),
            Decimal(ln["discount_percent"]),
            Decimal(ln["net"]),
            Decimal(ln["tax"]),
        )
        for ln in data["lines"]
    )
    return InvoiceDraft(
        data["source_key"],
        data["opportunity_id"],
        data["quote_id"],
        data["contact_id"],
        data["account_id"],
        data["currency"],
        lines,
        data["reference"],
        dt.date.fromisoformat(data["issue_date"]),
        dt.date.fromisoformat(data["due_date"]),
    )


def _crm_customer(internal_id: str | None) -> tuple[str, str]:
    """(account id, contact id) of a mapped customer ("account:<id>" or "contact:<id>")."""
    kind, _, ident = (internal_id or "").partition(":")
    return (ident, "") if kind == "account" else ("", ident if kind == "contact" else "")


class Books:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        connections: Connections,
        vendors: dict[str, Vendor],
        directory: CustomerDirectory,
        wake: threading.Event | None = None,
        max_attempts: int = 6,
        backoff: dt.timedelta = dt.timedelta(seconds=30),
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.connections = connections
        self.vendors = vendors
        self.directory = directory
        # Set when a write is queued: the accounting worker wakes for it.
        self.wake = wake or threading.Event()
        self.max_attempts = max_attempts
        self.backoff = backoff

    def vendor(self, credentials: Credentials) -> Vendor:
        return self.vendors[credentials.connection.data.type]

    # --- writes out: queued by the consumers, written by the worker ---

    def _accounting_connections(self, session: Session, tenant_id: str) -> list[tuple[str, str]]:
        """(connection id, type) of the tenant's accounting connections, read in the caller's session."""
        rows = session.execute(
            sa.select(ConnectionRow.id, ConnectionRow.type).where(
                ConnectionRow.tenant_id == tenant_id, ConnectionRow.type.in_(list(self.vendors))
            )
        ).all()
        return [(str(r.id), str(r.type)) for r in rows]

    def _queue(
        self, session: Session, tenant_id: str, connection_id: str, kind: str, key: str, payload: dict[str, Any]
    ) -> None:
        """Queue a write (the latest payload wins for a key already queued) and wake the worker."""
        now = utcnow()
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(AccountingPushRow).values(
            id=new_id(),
            tenant_id=tenant_id,
            connection_id=connection_id,
            kind=kind,
            key=key,
            payload=payload,
            attempts=0,
            next_attempt_time=now,
            error="",
            create_time=now,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["connection_id", "kind", "key"],
                set_={"payload": payload, "attempts": 0, "next_attempt_time": now, "error": ""},
            )
        )
        self.wake.set()

    def invoice(self, session: Session, tenant_id: str, draft: InvoiceDraft) -> None:
        """Queue `draft` for each accounting connection of the tenant that has not invoiced its source."""
        for connection_id, _ in self._accounting_connections(session, tenant_id):
            done = session.scalars(
                sa.select(AccountingInvoiceRow.id).where(
                    AccountingInvoiceRow.connection_id == connection_id,
                    AccountingInvoiceRow.source_key == draft.source_key,
                )
            ).first()
            queued = session.scalars(
                sa.select(AccountingPushRow.id).where(
                    AccountingPushRow.connection_id == connection_id,
                    AccountingPushRow.kind == "invoice",
                    AccountingPushRow.key == draft.source_key,
                )
            ).first()
            if not done and not queued:
                self._queue(session, tenant_id, connection_id, "invoice", draft.source_key, draft_to_dict(draft))

    def rename_customer(self, session: Session, tenant_id: str, account_id: str, name: str) -> None:
        """Queue the new name for every accounting connection the account is a customer in."""
        for connection_id, _ in self._accounting_connections(session, tenant_id):
            if external_id_of(session, connection_id, CUSTOMER, f"account:{account_id}"):
                self._queue(session, tenant_id, connection_id, "customer", account_id, {"name": name})

    def push_due(self, now: dt.datetime | None = None, limit: int = 50) -> int:
        """Write the queued changes that are due, each on its own; answers how many were tried."""
        moment = now or utcnow()
        with self.database.transaction() as session:
            due = session.execute(
                sa.select(AccountingPushRow.id, AccountingPushRow.tenant_id, AccountingPushRow.connection_id)
                .where(AccountingPushRow.next_attempt_time <= moment)
                .order_by(AccountingPushRow.next_attempt_time, AccountingPushRow.id)
                .limit(limit)
            ).all()
        for push_id, tenant_id, connection_id in due:
            self._push(push_id, tenant_id, connection_id, moment)
        return len(due)

    def _push(self, push_id: str, tenant_id: str, connection_id: str, now: dt.datetime) -> None:
        with self.database.transaction() as session:
            row = session.get(AccountingPushRow, push_id)
            if row is None:
                return  # written by another worker meanwhile
            kind, key, payload = row.kind, row.key, dict(row.payload)
        try:
            credentials = self.connections.credentials(tenant_id, connection_id)
        except NotFound:
            with self.database.transaction() as session:
                session.execute(sa.delete(AccountingPushRow).where(AccountingPushRow.id == push_id))
            return
        try:
            if kind == "invoice":
                self.create_invoice(credentials, draft_from_dict(payload), push_id)
            else:
                external_id = self._mapped_customer(credentials, f"account:{key}")
                if external_id:
                    details = CustomerDetails(display_name=payload["name"], company=payload["name"])
                    self.vendor(credentials).update_customer(credentials, external_id, details)
                with self.database.transaction() as session:
                    session.execute(sa.delete(AccountingPushRow).where(AccountingPushRow.id == push_id))
        except Exception as exc:  # kept and retried, then a dead letter; the other writes go on
            log.warning("%s %s for connection %s failed: %s", kind, key, connection_id, exc)
            self._failed(push_id, exc, now)

    def _failed(self, push_id: str, exc: Exception, now: dt.datetime) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        status = getattr(exc, "status", 0)
        permanent = isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 425, 429)
        with self.database.transaction() as session:
            row = session.get(AccountingPushRow, push_id, with_for_update=True)
            if row is None:
                return
            row.attempts += 1
            row.error = error
            if permanent or row.attempts >= self.max_attempts:
                stream = "invoices:out" if row.kind == "invoice" else "customers:out"
                payload = {**row.payload, "account_id": row.key} if row.kind == "customer" else row.payload
                add_dead_letter(
                    session, row.tenant_id, row.connection_id, stream, row.key, json.dumps(payload).encode(), error
                )
                session.delete(row)
            else:
                row.next_attempt_time = now + self.backoff * (2 ** (row.attempts - 1))

    def _mapped_customer(self, credentials: Credentials, internal: str) -> str | None:
        with self.database.transaction() as session:
            return external_id_of(session, credentials.connection.id, CUSTOMER, internal)

    def customer_out(self, credentials: Credentials, account_id: str, contact_id: str) -> str:
        """The vendor's customer for the CRM account (else contact): mapped, else created and mapped."""
        connection = credentials.connection
        internal = f"account:{account_id}" if account_id else f"contact:{contact_id}"
        known = self._mapped_customer(credentials, internal)
        if known:
            return known
        details = self.directory.details(connection.tenant_id, account_id, contact_id)
        external_id = self.vendor(credentials).create_customer(credentials, details)
        with self.database.transaction() as session:
            existing = claim_external_id(session, connection.tenant_id, connection.id, CUSTOMER, external_id, internal)
        if existing is not None and existing != internal:
            # The vendor's customer of that name is another CRM record's: two CRM records, one customer.
            log.info("customer %s of connection %s serves %s and %s", external_id, connection.id, existing, internal)
        return external_id

    def create_invoice(self, credentials: Credentials, draft: InvoiceDraft, push_id: str = "") -> None:
        """Create the invoice in the vendor (idempotently), then record it with InvoiceCreated."""
        connection = credentials.connection
        vendor = self.vendor(credentials)
        customer_id = self.customer_out(credentials, draft.account_id, draft.contact_id)
        created = vendor.create_invoice(credentials, draft, customer_id, request_id(connection.id, draft.source_key))
        with self.database.transaction() as session:
            if push_id:
                session.execute(sa.delete(AccountingPushRow).where(AccountingPushRow.id == push_id))
            known = session.scalars(
                sa.select(AccountingInvoiceRow.id).where(
                    AccountingInvoiceRow.connection_id == connection.id,
                    AccountingInvoiceRow.source_key == draft.source_key,
                )
            ).first()
            if known:
                return
            now = utcnow()
            row = AccountingInvoiceRow(
                id=new_id(),
                tenant_id=connection.tenant_id,
                connection_id=connection.id,
                source_key=draft.source_key,
                external_system=vendor.system,
                external_id=created.external_id,
                invoice_number=created.number,
                opportunity_id=draft.opportunity_id,
                quote_id=draft.quote_id,
                contact_id=draft.contact_id,
                account_id=draft.account_id,
                currency_code=draft.currency,
                total_minor=_minor(created.total or draft.total, draft.currency),
                balance_minor=_minor(created.balance, draft.currency),
                issue_date=created.issue_date or draft.issue_date,
                due_date=created.due_date or draft.due_date,
                create_time=now,
                update_time=now,
            )
            session.add(row)
            session.flush()
            claim_external_id(session, connection.tenant_id, connection.id, INVOICE, created.external_id, row.id)
            self._invoice_created(session, row)

    def _invoice_created(self, session: Session, row: AccountingInvoiceRow) -> None:
        event = integrations.InvoiceCreated(
            invoice_id=row.id,
            external_system=row.external_system,
            external_id=row.external_id,
            invoice_number=row.invoice_number,
            contact_id=row.contact_id,
            account_id=row.account_id,
            opportunity_id=row.opportunity_id,
            quote_id=row.quote_id,
            total=_money(_from_minor(row.total_minor, row.currency_code), row.currency_code),
            balance=_money(_from_minor(row.balance_minor, row.currency_code), row.currency_code),
            issue_date=_date(row.issue_date),
            due_date=_date(row.due_date),
        )
        self.outbox.add(session, event, tenant_id=row.tenant_id, subject=row.id)

    def requeue(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        """Replaying an outbound dead letter queues its write again (the worker writes it)."""
        payload = json.loads(letter.payload)
        connection = credentials.connection
        if letter.stream == "invoices:out":
            self._queue(session, connection.tenant_id, connection.id, "invoice", letter.external_id, payload)
        else:
            key = str(payload.pop("account_id", letter.external_id))
            self._queue(session, connection.tenant_id, connection.id, "customer", key, payload)

    # --- sync (in) ---

    def sync(self, credentials: Credentials, run: SyncRun, full_refresh: bool) -> SyncRun:
        connection = credentials.connection
        vendor = self.vendor(credentials)
        counts = {"fetched": 0, "created": 0, "skipped": 0, "failed": 0}
        for stream in domain.STREAMS:
            with self.database.transaction() as session:
                cursor = get_cursor(session, connection.id, stream)
            for page in vendor.read(credentials, stream, cursor, full_refresh):
                with self.database.transaction() as session:
                    for record in page.records:
                        counts["fetched"] += 1
                        try:
                            with session.begin_nested():
                                outcome = self.apply(session, credentials, record)
                        except Exception as exc:
                            counts["failed"] += 1
                            add_dead_letter(
                                session,
                                connection.tenant_id,
                                connection.id,
                                stream,
                                record.external_id,
                                record_to_json(record),
                                f"{type(exc).__name__}: {exc}",
                            )
                        else:
                            counts[outcome] += 1
                    if page.cursor:
                        put_cursor(session, connection.tenant_id, connection.id, stream, page.cursor)
        return dataclasses.replace(
            run,
            fetched_count=counts["fetched"],
            created_count=counts["created"],
            skipped_count=counts["skipped"],
            failed_count=counts["failed"],
        )

    def apply(self, session: Session, credentials: Credentials, record: domain.Record) -> str:
        """Store one record read from the vendor: "created" or "skipped" (known already)."""
        if isinstance(record, Customer):
            return self._customer_in(session, credentials, record)
        if isinstance(record, Invoice):
            return self._invoice_in(session, credentials, record)
        return self._payment_in(session, credentials, record)

    def replay_record(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        self.apply(session, credentials, record_from_json(letter.payload))

    def _customer_in(self, session: Session, credentials: Credentials, customer: Customer) -> str:
        connection = credentials.connection
        if internal_id_of(session, connection.id, CUSTOMER, customer.external_id):
            return "skipped"  # the CRM is where a mapped customer's name changes (no echo)
        account_id = self.directory.account_for(
            connection.tenant_id,
            customer.details,
            f"{self.vendor(credentials).system}:{connection.id}:{customer.external_id}",
        )
        claim_external_id(
            session, connection.tenant_id, connection.id, CUSTOMER, customer.external_id, f"account:{account_id}"
        )
        return "created"

    def _invoice_in(self, session: Session, credentials: Credentials, invoice: Invoice) -> str:
        connection = credentials.connection
        internal = internal_id_of(session, connection.id, INVOICE, invoice.external_id)
        if internal:
            row = session.get(AccountingInvoiceRow, internal)
            if row is None:
                return "skipped"
            balance = _minor(invoice.balance, row.currency_code)
            if balance == row.balance_minor and invoice.number == row.invoice_number:
                return "skipped"
            row.balance_minor, row.invoice_number, row.update_time = balance, invoice.number, utcnow()
            return "skipped"
        account_id, contact_id = _crm_customer(
            internal_id_of(session, connection.id, CUSTOMER, invoice.customer_external_id)
        )
        currency = invoice.currency
        now = utcnow()
        row = AccountingInvoiceRow(
            id=new_id(),
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            source_key=f"external:{invoice.external_id}",
            external_system=self.vendor(credentials).system,
            external_id=invoice.external_id,
            invoice_number=invoice.number,
            opportunity_id="",
            quote_id="",
            contact_id=contact_id,
            account_id=account_id,
            currency_code=currency,
            total_minor=_minor(invoice.total, currency),
            balance_minor=_minor(invoice.balance, currency),
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            create_time=now,
            update_time=now,
        )
        session.add(row)
        session.flush()
        if claim_external_id(session, connection.tenant_id, connection.id, INVOICE, invoice.external_id, row.id):
            session.delete(row)  # a concurrent sync recorded it a moment ago
            return "skipped"
        self._invoice_created(session, row)
        return "created"

    def _payment_in(self, session: Session, credentials: Credentials, payment: Payment) -> str:
        connection = credentials.connection
        invoice_id = internal_id_of(session, connection.id, INVOICE, payment.invoice_external_id)
        invoice = session.get(AccountingInvoiceRow, invoice_id) if invoice_id else None
        if invoice is None:
            raise LookupError(f"payment {payment.external_id}: invoice {payment.invoice_external_id} is not known yet")
        payment_id = new_id()
        if claim_external_id(session, connection.tenant_id, connection.id, PAYMENT, payment.external_id, payment_id):
            return "skipped"
        currency = payment.currency or invoice.currency_code
        row = AccountingPaymentRow(
            id=payment_id,
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            external_id=payment.external_id,
            invoice_id=invoice.id,
            contact_id=invoice.contact_id,
            account_id=invoice.account_id,
            currency_code=currency,
            amount_minor=_minor(payment.amount, currency),
            paid_time=payment.paid_time,
            create_time=utcnow(),
        )
        session.add(row)
        event = integrations.PaymentReceived(
            payment_id=row.id,
            invoice_id=invoice.id,
            external_system=invoice.external_system,
            external_id=payment.external_id,
            contact_id=invoice.contact_id,
            account_id=invoice.account_id,
            amount=_money(payment.amount, currency),
            paid_time=_stamp(payment.paid_time),
        )
        self.outbox.add(session, event, tenant_id=connection.tenant_id, subject=row.id)
        return "created"


def record_to_json(record: domain.Record) -> bytes:
    data = dataclasses.asdict(record)
    data["kind"] = type(record).__name__
    return json.dumps(data, default=str).encode()


def record_from_json(payload: bytes) -> domain.Record:
    data = json.loads(payload)
    kind = data.pop("kind")
    if kind == "Customer":
        return Customer(data["external_id"], CustomerDetails(**data["details"]))
    if kind == "Invoice":
        return Invoice(
            data["external_id"],
            data["number"],
            data["customer_external_id"],
            data["currency"],
            Decimal(data["total"]),
            Decimal(data["balance"]),
            domain.parse_date(data["issue_date"]),
            domain.parse_date(data["due_date"]),
        )
    return Payment(
        data["external_id"],
        data["invoice_external_id"],
        data["customer_external_id"],
        data["currency"],
        Decimal(data["amount"]),
        dt.datetime.fromisoformat(data["paid_time"]),
    )


# --- consumers ---


def _quote_lines(event: sales.QuoteAccepted) -> list[QuoteLine]:
    return [
        QuoteLine(
            line.name,
            line.sku,
            line.quantity,
            line.discount_percent,
            domain.money_decimal(line.net_amount.units, line.net_amount.nanos),
            domain.money_decimal(line.tax_amount.units, line.tax_amount.nanos),
        )
        for line in event.lines
    ]


def invoicing(database: Database, books: Books) -> EventConsumer:
    """A won deal or an accepted quote is invoiced in the tenant's accounting systems."""

    def on_won(session: Session, envelope: Envelope, event: sales.OpportunityWon) -> None:
        o = event.opportunity
        draft = domain.draft_for_won_deal(
            o.id,
            o.name,
            o.contact_id,
            o.account_id,
            o.amount.currency_code,
            domain.money_decimal(o.amount.units, o.amount.nanos),
            envelope.time.ToDatetime(tzinfo=dt.UTC),
        )
        if draft is not None:
            books.invoice(session, envelope.tenant, draft)

    def on_quote(session: Session, envelope: Envelope, event: sales.QuoteAccepted) -> None:
        when = event.accept_time if event.accept_time.seconds else envelope.time
        draft = domain.draft_for_accepted_quote(
            event.quote_id,
            event.quote_number,
            event.opportunity_id,
            event.contact_id,
            event.account_id,
            event.grand_total.currency_code,
            _quote_lines(event),
            when.ToDatetime(tzinfo=dt.UTC),
        )
        if draft is not None:
            books.invoice(session, envelope.tenant, draft)

    handles = [Handles(sales.OpportunityWon, on_won), Handles(sales.QuoteAccepted, on_quote)]
    return EventConsumer(INVOICES_CONSUMER, database, INBOX, handles)  # type: ignore[arg-type]


def customer_updates(database: Database, books: Books) -> EventConsumer:
    """An account renamed in the CRM is renamed in the accounting systems it is mapped in."""

    def on_account_updated(session: Session, envelope: Envelope, event: contacts_events.AccountUpdated) -> None:
        if "name" in event.changed_fields.paths:
            books.rename_customer(session, envelope.tenant, event.account.id, event.account.name)

    handles = [Handles(contacts_events.AccountUpdated, on_account_updated)]
    return EventConsumer(CUSTOMERS_CONSUMER, database, INBOX, handles)  # type: ignore[arg-type]
