"""Contacts tables and queries: the only module that touches the contacts database."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata
from crmkit.events.tables import add_messaging_tables
from services.contacts.domain import Contact, ContactFields


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (sa.Index("ix_contacts_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    given_name: Mapped[str] = mapped_column(sa.String(200))
    family_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320))
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
    row.lifecycle_stage = data.lifecycle_stage
    row.account_ids, row.tags, row.custom_fields = list(data.account_ids), list(data.tags), dict(data.custom_fields)
    row.update_time, row.etag = contact.update_time, contact.etag


def add(session: Session, contact: Contact) -> None:
    row = ContactRow(id=contact.id, tenant_id=contact.tenant_id, create_time=contact.create_time)
    _write(row, contact)
    session.add(row)


def get(session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False) -> Contact | None:
    row = _row(session, tenant_id, contact_id, for_update)
    return None if row is None else _to_domain(row)


def save(session: Session, contact: Contact) -> None:
    row = _row(session, contact.tenant_id, contact.id, for_update=False)
    if row is None:
        raise LookupError(contact.id)
    _write(row, contact)


def delete(session: Session, tenant_id: str, contact_id: str) -> None:
    session.execute(sa.delete(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id))


def page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Contact]:
    query = sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id)
    if after:
        query = query.where(ContactRow.id > after)
    rows = session.scalars(query.order_by(ContactRow.id).limit(limit)).all()
    return [_to_domain(r) for r in rows]


def _row(session: Session, tenant_id: str, contact_id: str, for_update: bool) -> ContactRow | None:
    query = sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()
