"""The integrations service's tables: outbox and inbox, connections, sync state and email deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata
from crmkit.events.tables import add_messaging_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)


# --- connections, sync state and email (issue #7; docs/adr/0046, 0047) ---


class SecretKeyRow(Base):
    """The secret-box key the migration generated, used only while CRM_SECRET_KEYS is unset."""

    __tablename__ = "secretbox_keys"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ConnectionRow(Base):
    __tablename__ = "connections"
    __table_args__ = (sa.Index("ix_connections_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    type: Mapped[str] = mapped_column(sa.String(16), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    # host, port, security, username, from_address, mailbox, purpose, support_addresses, ca_certificate
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The password or token, sealed by crmkit.secretbox ("" when none); never leaves the service.
    sealed_secret: Mapped[str] = mapped_column(sa.Text())
    key_id: Mapped[str] = mapped_column(sa.String(32))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SyncCursorRow(Base):
    """Where a connection's stream stopped; written in the transaction of the data it covers."""

    __tablename__ = "sync_cursors"

    connection_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    stream: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SyncRunRow(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (sa.Index("ix_sync_runs_connection_id_id", "connection_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    connection_id: Mapped[str] = mapped_column(sa.String(26))
    status: Mapped[str] = mapped_column(sa.String(16))
    trigger: Mapped[str] = mapped_column(sa.String(16))
    fetched_count: Mapped[int] = mapped_column(sa.Integer())
    created_count: Mapped[int] = mapped_column(sa.Integer())
    skipped_count: Mapped[int] = mapped_column(sa.Integer())
    failed_count: Mapped[int] = mapped_column(sa.Integer())
    updated_count: Mapped[int] = mapped_column(sa.Integer(), server_default="0")
    error: Mapped[str] = mapped_column(sa.Text())
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ExternalIdRow(Base):
    """(connection, object type, external id) <-> internal id: upserts from a connector are idempotent."""

    __tablename__ = "external_ids"
    __table_args__ = (
        sa.Index(
            "ix_external_ids_connection_id_object_type_internal_id", "connection_id", "object_type", "internal_id"
        ),
    )

    connection_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    object_type: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(998), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    internal_id: Mapped[str] = mapped_column(sa.String(64))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Field -> short hash of the value last synced either way (None: nothing yet). A change whose
    # fields hash the same is the sync's own echo and is not sent back (docs/adr/0057). Hashes, not
    # values: no personal data is copied here.
    synced: Mapped[dict[str, str] | None] = mapped_column(JSONType, nullable=True)


class DeadLetterRow(Base):
    __tablename__ = "sync_dead_letters"
    __table_args__ = (sa.Index("ix_sync_dead_letters_connection_id_id", "connection_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    connection_id: Mapped[str] = mapped_column(sa.String(26))
    stream: Mapped[str] = mapped_column(sa.String(200))
    external_id: Mapped[str] = mapped_column(sa.String(998))
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary())
    error: Mapped[str] = mapped_column(sa.Text())
    attempts: Mapped[int] = mapped_column(sa.Integer())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    resolve_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EmailDeliveryRow(Base):
    """One message to send: QUEUED -> SENDING (claimed by one sender) -> SENT | FAILED."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_email_deliveries_tenant_id_idempotency_key"),
        sa.Index("ix_email_deliveries_status_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    connection_id: Mapped[str] = mapped_column(sa.String(26))
    message_id: Mapped[str] = mapped_column(sa.String(998))
    from_address: Mapped[str] = mapped_column(sa.String(320))
    # Envelope recipients (to + cc), and the finished MIME message.
    recipients: Mapped[list[str]] = mapped_column(JSONType)
    to_addresses: Mapped[list[str]] = mapped_column(JSONType)
    cc_addresses: Mapped[list[str]] = mapped_column(JSONType)
    subject: Mapped[str] = mapped_column(sa.Text())
    in_reply_to: Mapped[str] = mapped_column(sa.String(998))
    raw: Mapped[bytes] = mapped_column(sa.LargeBinary())
    origin: Mapped[str] = mapped_column(sa.String(64))
    origin_ref: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    error: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- accounting: QuickBooks Online and Xero (issue #7 point 4; docs/adr/0059, 0060) ---


class AccountingInvoiceRow(Base):
    """An invoice the CRM asked an accounting system for (or found there): a record kept for law,
    pseudonymised, never deleted, on a contact's erasure. Money in minor units (ADR 0045)."""

    __tablename__ = "accounting_invoices"
    __table_args__ = (
        sa.UniqueConstraint("connection_id", "source_key", name="uq_accounting_invoices_connection_id_source_key"),
        sa.Index("ix_accounting_invoices_tenant_id_contact_id", "tenant_id", "contact_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    connection_id: Mapped[str] = mapped_column(sa.String(26))
    # "opportunity:<id>", "quote:<id>" (made by the CRM) or "external:<vendor id>" (found in sync).
    source_key: Mapped[str] = mapped_column(sa.String(200))
    external_system: Mapped[str] = mapped_column(sa.String(16))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    invoice_number: Mapped[str] = mapped_column(sa.String(64))
    opportunity_id: Mapped[str] = mapped_column(sa.String(64))
    quote_id: Mapped[str] = mapped_column(sa.String(64))
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    balance_minor: Mapped[int] = mapped_column(sa.BigInteger)
    issue_date: Mapped[dt.date | None] = mapped_column(sa.Date(), nullable=True)
    due_date: Mapped[dt.date | None] = mapped_column(sa.Date(), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AccountingPaymentRow(Base):
    """A payment an accounting system recorded against an invoice (a record kept for law too)."""

    __tablename__ = "accounting_payments"
    __table_args__ = (
        sa.UniqueConstraint("connection_id", "external_id", name="uq_accounting_payments_connection_id_external_id"),
        sa.Index("ix_accounting_payments_tenant_id_contact_id", "tenant_id", "contact_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    connection_id: Mapped[str] = mapped_column(sa.String(26))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    invoice_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    paid_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AccountingPushRow(Base):
    """A CRM change to write into an accounting system (an invoice to create, a customer to rename),
    queued by a consumer and written by the accounting worker outside any transaction, retried with
    back-off; one per connection, kind and key."""

    __tablename__ = "accounting_pushes"
    __table_args__ = (
        sa.UniqueConstraint("connection_id", "kind", "key", name="uq_accounting_pushes_connection_id_kind_key"),
        sa.Index("ix_accounting_pushes_next_attempt_time", "next_attempt_time"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    connection_id: Mapped[str] = mapped_column(sa.String(26))
    # "invoice" (key: the source key) or "customer" (key: the account id).
    kind: Mapped[str] = mapped_column(sa.String(16))
    key: Mapped[str] = mapped_column(sa.String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    attempts: Mapped[int] = mapped_column(sa.Integer())
    next_attempt_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    error: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SyncRequestRow(Base):
    """A connection's pending "sync soon" (a signed vendor webhook); many webhooks, one row."""

    __tablename__ = "sync_requests"

    connection_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    request_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Signed notifications since the last sync (for operators; the sync reads everything changed).
    notification_count: Mapped[int] = mapped_column(sa.Integer())


# The webhook tables share this metadata (one Alembic history per service).
from services.integrations.automation import store as _automation_store  # noqa: E402, F401
from services.integrations.webhooks import store as _webhooks_store  # noqa: E402, F401
