"""Contacts tables and queries: the only module that touches the contacts database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata
from crmkit.events.tables import add_messaging_tables
from crmkit.filtering import Field, Kind, Order, after_position, compile_filter, order_clauses, parse_order_by
from services.contacts.domain import Contact, ContactFields


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        sa.Index("ix_contacts_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_contacts_tenant_id_email_key", "tenant_id", "email_key"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    given_name: Mapped[str] = mapped_column(sa.String(200))
    family_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320))
    # The email as duplicates are found: lower-cased ('' when there is none).
    email_key: Mapped[str] = mapped_column(sa.String(320))
    phone: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(200))
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(40))
    account_ids: Mapped[list[str]] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType)
    custom_fields: Mapped[dict[str, object]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


def _to_domain(row: ContactRow) -> Contact:
    data = ContactFields(
        given_name=row.given_name,
        family_name=row.family_name,
        email=row.email,
        phone=row.phone,
        title=row.title,
        account_ids=tuple(row.account_ids),
        owner_id=row.owner_id,
        lifecycle_stage=row.lifecycle_stage,
        tags=tuple(row.tags),
        custom_fields=dict(row.custom_fields),
    )
    return Contact(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def _write(row: ContactRow, contact: Contact) -> None:
    data = contact.data
    row.given_name, row.family_name, row.title = data.given_name, data.family_name, data.title
    row.email, row.phone, row.owner_id = data.email, data.phone, data.owner_id
    row.email_key = data.email.lower()
    row.lifecycle_stage = data.lifecycle_stage
    row.account_ids, row.tags, row.custom_fields = list(data.account_ids), list(data.tags), dict(data.custom_fields)
    row.update_time, row.etag = contact.update_time, contact.etag


def add(session: Session, contact: Contact) -> None:
    row = ContactRow(id=contact.id, tenant_id=contact.tenant_id, create_time=contact.create_time)
    _write(row, contact)
    session.add(row)
    dedup_store.file_keys(session, [contact], new=True)


def get(session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False) -> Contact | None:
    row = _row(session, tenant_id, contact_id, for_update)
    return None if row is None else _to_domain(row)


def save(session: Session, contact: Contact) -> None:
    row = _row(session, contact.tenant_id, contact.id, for_update=False)
    if row is None:
        raise LookupError(contact.id)
    _write(row, contact)
    dedup_store.file_keys(session, [contact])


def with_email(session: Session, tenant_id: str, email: str) -> str | None:
    """The id of a contact of the tenant with this email (any case), serialising writers of that email."""
    key = email.lower()
    if session.get_bind().dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"{tenant_id}/{key}", 0))))
    query = sa.select(ContactRow.id).where(ContactRow.tenant_id == tenant_id, ContactRow.email_key == key)
    return session.scalars(query.order_by(ContactRow.id).limit(1)).first()


def delete(session: Session, tenant_id: str, contact_id: str) -> None:
    session.execute(sa.delete(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id))
    dedup_store.unfile_keys(session, tenant_id, [contact_id])


# What partners may filter and order by (API.md field names), and the columns behind them.
FILTERABLE = [
    Field("givenName", ContactRow.given_name, Kind.TEXT, sortable=True),
    Field("familyName", ContactRow.family_name, Kind.TEXT, sortable=True),
    Field("email", ContactRow.email, Kind.TEXT, sortable=True),
    Field("phone", ContactRow.phone, Kind.TEXT),
    Field("title", ContactRow.title, Kind.TEXT),
    Field("ownerId", ContactRow.owner_id, Kind.ENUM),
    Field("lifecycleStage", ContactRow.lifecycle_stage, Kind.ENUM),
    Field("tags", ContactRow.tags, Kind.TEXT_LIST),
    Field("accountIds", ContactRow.account_ids, Kind.TEXT_LIST),
    Field("customFields", ContactRow.custom_fields, Kind.JSON_OBJECT),
    Field("createTime", ContactRow.create_time, Kind.TIMESTAMP, sortable=True),
    Field("updateTime", ContactRow.update_time, Kind.TIMESTAMP, sortable=True),
]


@dataclass(frozen=True)
class Listing:
    filter: str
    order_by: str
    # Set for a caller who may see only the contacts it owns ("own records only", ADR 13).
    owner_id: str | None = None

    def condition(self, dialect: str) -> Any:
        return compile_filter(self.filter, FILTERABLE, dialect)

    def orders(self) -> list[Order]:
        return parse_order_by(self.order_by, FILTERABLE, default=[])


def page(
    session: Session, tenant_id: str, listing: Listing, after: list[Any] | None, limit: int
) -> list[tuple[Contact, list[Any]]]:
    """Up to `limit` contacts after the position `after`, each with its own position (for the cursor)."""
    orders = listing.orders()
    query = sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id)
    condition = listing.condition(session.get_bind().dialect.name)
    if condition is not None:
        query = query.where(condition)
    if listing.owner_id is not None:
        query = query.where(ContactRow.owner_id == listing.owner_id)
    if after:
        if len(after) != len(orders) + 1:
            raise LookupError("position does not match the order")
        query = query.where(after_position(orders, ContactRow.id, after))
    rows = session.scalars(query.order_by(*order_clauses(orders, ContactRow.id)).limit(limit)).all()
    return [(_to_domain(r), [getattr(r, o.field.column.key) for o in orders] + [r.id]) for r in rows]


def _row(session: Session, tenant_id: str, contact_id: str, for_update: bool) -> ContactRow | None:
    query = sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


# Last: its tables join Base.metadata, and add/save/delete keep the contacts' blocking keys in step.
from services.contacts import dedup_store  # noqa: E402
