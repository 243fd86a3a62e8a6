"""Contacts tables and queries: the only module that touches the contacts database."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata, one_of
from crmkit.events.tables import add_messaging_tables
from crmkit.filtering import (
    Field,
    KeyType,
    Kind,
    Order,
    compile_filter,
    keyset_page,
    parse_order_by,
)
from services.contacts.domain import Association, Contact, ContactFields


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)
# Trigram indexes for free text `q` exist on PostgreSQL only (created by migration 0003).
Base.metadata.info["unmanaged"] = ("ix_contacts_search_trgm", "ix_accounts_search_trgm")


class ContactRow(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        sa.Index("ix_contacts_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_contacts_tenant_id_email_key", "tenant_id", "email_key"),
        # The listing's usual filter and order beyond id (docs/adr/0064).
        sa.Index("ix_contacts_tenant_id_family_name", "tenant_id", "family_name"),
        sa.Index("ix_contacts_tenant_id_create_time", "tenant_id", "create_time"),
        # One contact per external id and tenant; most contacts have none ('').
        sa.Index(
            "ux_contacts_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=sa.text("external_id <> ''"),
            sqlite_where=sa.text("external_id <> ''"),
        ),
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
    # Lower-cased names, email, phone and associated account names: what free text `q` matches.
    search_text: Mapped[str] = mapped_column(sa.Text(), default="")
    external_id: Mapped[str] = mapped_column(sa.String(64), server_default="")
    additional_emails: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")
    additional_phones: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")


class AdditionalEmailRow(Base):
    """A contact's further address as duplicates are found (lower-cased), next to `email_key`
    for the primary one: "does another contact have this address" is one indexed lookup."""

    __tablename__ = "contact_additional_emails"
    __table_args__ = (sa.Index("ix_contact_additional_emails_tenant_id_email_key", "tenant_id", "email_key"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    email_key: Mapped[str] = mapped_column(sa.String(320), primary_key=True)


class AccountAssociationRow(Base):
    """A contact's labelled link to an account; the source of truth for accountIds (docs/adr/0032)."""

    __tablename__ = "contact_account_associations"
    __table_args__ = (sa.Index("ix_contact_account_associations_tenant_id_account_id", "tenant_id", "account_id"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer())
    label: Mapped[str] = mapped_column(sa.String(100))
    is_primary: Mapped[bool] = mapped_column(sa.Boolean())


def _associations_of(session: Session, tenant_id: str, contact_ids: list[str]) -> dict[str, list[Association]]:
    found: dict[str, list[Association]] = {i: [] for i in contact_ids}
    if not contact_ids:
        return found
    rows = session.scalars(
        sa.select(AccountAssociationRow)
        .where(
            AccountAssociationRow.tenant_id == tenant_id,
            one_of(AccountAssociationRow.contact_id, contact_ids, session.get_bind().dialect.name),
        )
        .order_by(AccountAssociationRow.contact_id, AccountAssociationRow.position)
    )
    for row in rows:
        found[row.contact_id].append(Association(row.account_id, row.label, row.is_primary))
    return found


def write_associations(session: Session, contact: Contact) -> None:
    write_associations_of(session, [contact])


def write_associations_of(session: Session, contacts: Sequence[Contact], *, new: bool = False) -> None:
    """Replace the associations of these contacts (of one tenant) with theirs, in two statements
    (an import writes thousands at once); `new` contacts have none to replace."""
    if not contacts:
        return
    if not new:
        session.execute(
            sa.delete(AccountAssociationRow).where(
                AccountAssociationRow.tenant_id == contacts[0].tenant_id,
                AccountAssociationRow.contact_id.in_([c.id for c in contacts]),
            )
        )
    rows = [
        {
            "tenant_id": c.tenant_id,
            "contact_id": c.id,
            "account_id": a.account_id,
            "position": i,
            "label": a.label,
            "is_primary": a.primary,
        }
        for c in contacts
        for i, a in enumerate(c.data.account_associations)
    ]
    if rows:
        session.execute(sa.insert(AccountAssociationRow), rows)


def search_text(session: Session, contact: Contact) -> str:
    data = contact.data
    names: list[str] = []
    if data.account_ids:
        accounts = Base.metadata.tables["accounts"]
        names = list(
            session.scalars(
                sa.select(accounts.c.name).where(
                    accounts.c.tenant_id == contact.tenant_id, accounts.c.id.in_(list(data.account_ids))
                )
            )
        )
    return " ".join([data.given_name, data.family_name, *data.emails, *data.phones, *names]).lower()


def refresh_search_text(session: Session, tenant_id: str, contact_ids: list[str]) -> None:
    """Recompute `q`'s text of these contacts (an associated account was renamed)."""
    for contact_id in contact_ids:
        contact = get(session, tenant_id, contact_id)
        if contact is not None:
            session.execute(
                sa.update(ContactRow)
                .where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id)
                .values(search_text=search_text(session, contact))
            )


# The columns a contact is read from: not `search_text` and `email_key` (derived for lookups) nor
# `account_ids` (the associations are the truth, docs/adr/0032).
READ_COLUMNS = [c for c in ContactRow.__table__.c if c.key not in ("search_text", "email_key", "account_ids")]
# A page's row as `_to_domain` reads it: a named tuple's fields cost a fraction of a Row's (docs/adr/0075).
_Read = namedtuple("_Read", [c.key for c in READ_COLUMNS])  # type: ignore[misc]


def _to_domain(row: ContactRow | Any, associations: list[Association] | None = None) -> Contact:
    data = ContactFields(
        given_name=row.given_name,
        family_name=row.family_name,
        email=row.email,
        phone=row.phone,
        title=row.title,
        account_ids=tuple(a.account_id for a in associations or ()),
        owner_id=row.owner_id,
        lifecycle_stage=row.lifecycle_stage,
        tags=tuple(row.tags),
        custom_fields=dict(row.custom_fields),
        account_associations=tuple(associations or ()),
        external_id=row.external_id,
        additional_emails=tuple(row.additional_emails or ()),
        additional_phones=tuple(row.additional_phones or ()),
    )
    return Contact(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def _write(row: ContactRow, contact: Contact) -> None:
    for column, value in written_columns(contact).items():
        setattr(row, column, value)


def written_columns(contact: Contact) -> dict[str, Any]:
    """Column -> value of everything a save writes (all but id, tenant_id and create_time); bulk
    writers (imports) use it as well, so a new column is written the same way everywhere."""
    data = contact.data
    return {
        "given_name": data.given_name,
        "family_name": data.family_name,
        "title": data.title,
        "email": data.email,
        "email_key": data.email.lower(),
        "phone": data.phone,
        "owner_id": data.owner_id,
        "lifecycle_stage": data.lifecycle_stage,
        "account_ids": list(data.account_ids),
        "tags": list(data.tags),
        "custom_fields": dict(data.custom_fields),
        "update_time": contact.update_time,
        "etag": contact.etag,
        "external_id": data.external_id,
        "additional_emails": list(data.additional_emails),
        "additional_phones": list(data.additional_phones),
    }


def add(session: Session, contact: Contact) -> None:
    row = ContactRow(id=contact.id, tenant_id=contact.tenant_id, create_time=contact.create_time)
    _write(row, contact)
    row.search_text = search_text(session, contact)
    session.add(row)
    write_associations(session, contact)
    write_additional_emails(session, contact)
    dedup_store.file_keys(session, [contact], new=True)


def get(session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False) -> Contact | None:
    row = _row(session, tenant_id, contact_id, for_update)
    if row is None:
        return None
    return _to_domain(row, _associations_of(session, tenant_id, [row.id])[row.id])


def save(session: Session, contact: Contact) -> None:
    row = _row(session, contact.tenant_id, contact.id, for_update=False)
    if row is None:
        raise LookupError(contact.id)
    _write(row, contact)
    row.search_text = search_text(session, contact)
    write_associations(session, contact)
    write_additional_emails(session, contact)
    dedup_store.file_keys(session, [contact])


def with_email(session: Session, tenant_id: str, email: str) -> str | None:
    """The id of a contact of the tenant with this email, primary or further (any case),
    serialising writers of that email."""
    key = email.lower()
    if session.get_bind().dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"{tenant_id}/{key}", 0))))
    primary = sa.select(ContactRow.id).where(ContactRow.tenant_id == tenant_id, ContactRow.email_key == key)
    further = sa.select(AdditionalEmailRow.contact_id.label("id")).where(
        AdditionalEmailRow.tenant_id == tenant_id, AdditionalEmailRow.email_key == key
    )
    found = sa.union(primary, further).subquery()
    return session.scalars(sa.select(found.c.id).order_by(found.c.id).limit(1)).first()


def write_additional_emails(session: Session, contact: Contact) -> None:
    session.execute(
        sa.delete(AdditionalEmailRow).where(
            AdditionalEmailRow.tenant_id == contact.tenant_id, AdditionalEmailRow.contact_id == contact.id
        )
    )
    keys = dict.fromkeys(e.lower() for e in contact.data.additional_emails)
    session.add_all(AdditionalEmailRow(tenant_id=contact.tenant_id, contact_id=contact.id, email_key=k) for k in keys)


def delete(session: Session, tenant_id: str, contact_id: str) -> None:
    session.execute(
        sa.delete(AccountAssociationRow).where(
            AccountAssociationRow.tenant_id == tenant_id, AccountAssociationRow.contact_id == contact_id
        )
    )
    session.execute(
        sa.delete(AdditionalEmailRow).where(
            AdditionalEmailRow.tenant_id == tenant_id, AdditionalEmailRow.contact_id == contact_id
        )
    )
    session.execute(sa.delete(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id))
    dedup_store.unfile_keys(session, tenant_id, [contact_id])


def _has_address(email: str) -> sa.ColumnElement[bool]:
    """`additionalEmails:x`: compared without case, as duplicates are, through the indexed keys."""
    return ContactRow.id.in_(
        sa.select(AdditionalEmailRow.contact_id).where(
            AdditionalEmailRow.tenant_id == ContactRow.tenant_id, AdditionalEmailRow.email_key == email.strip().lower()
        )
    )


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
    Field("additionalEmails", ContactRow.additional_emails, Kind.TEXT_LIST, has=_has_address),
    Field("additionalPhones", ContactRow.additional_phones, Kind.TEXT_LIST),
    Field(
        "accountIds",
        ContactRow.account_ids,
        Kind.TEXT_LIST,
        has=lambda account_id: sa.exists(
            sa.select(1).where(
                AccountAssociationRow.tenant_id == ContactRow.tenant_id,
                AccountAssociationRow.contact_id == ContactRow.id,
                AccountAssociationRow.account_id == account_id,
            )
        ),
    ),
    Field("externalId", ContactRow.external_id, Kind.ENUM),
    Field("customFields", ContactRow.custom_fields, Kind.JSON_OBJECT),
    Field("createTime", ContactRow.create_time, Kind.TIMESTAMP, sortable=True),
    Field("updateTime", ContactRow.update_time, Kind.TIMESTAMP, sortable=True),
]


def typed_fields(fields: list[Field], key_types: dict[str, KeyType] | None) -> list[Field]:
    """The listing's fields with `customFields` typed by the tenant's definitions (None: untyped)."""
    if key_types is None:
        return fields
    return [replace(f, key_types=key_types) if f.kind is Kind.JSON_OBJECT else f for f in fields]


def free_text(column: Any, q: str, dialect: str = "") -> Any:
    """Every word of `q` appears in the column (lower case): LIKE, which pg_trgm's GIN index serves.

    On PostgreSQL a word with digits (an email or phone fragment) is looked up in the index by its
    digits and the letter either side only, and checked whole with strpos, which the index cannot
    take: every trigram of a word costs the GIN index its whole posting list, and the letters'
    ('fam', 'ily', 'com') are in most rows (docs/adr/0064)."""
    words = q.lower().split()
    if not words:
        return None
    conditions = []
    for word in words:
        found = column.contains(word, autoescape=True)
        digits = [i for i, c in enumerate(word) if c.isdigit()]
        core = word[max(0, digits[0] - 1) : digits[-1] + 2] if digits else word
        if dialect == "postgresql" and core != word:
            found = sa.and_(column.contains(core, autoescape=True), sa.func.strpos(column, word) > 0)
        conditions.append(found)
    return sa.and_(*conditions)


def custom_plans(session: Session) -> None:
    """Plan this transaction's statements for their actual values (PostgreSQL). psycopg prepares a
    statement run five times, and PostgreSQL may then switch to a generic plan, which cannot know
    how selective `LIKE '%' || $2 || '%'` is and scans the tenant (2.5 s at 1M contacts for a
    surname that the trigram index finds in 0.5 ms; docs/adr/0064)."""
    session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


@dataclass(frozen=True)
class Listing:
    filter: str
    order_by: str
    # Set for a caller who may see only the contacts it owns ("own records only", ADR 13).
    owner_id: str | None = None
    q: str = ""
    # The tenant's custom-field definitions for contacts, by key (None: free-form custom fields).
    key_types: dict[str, KeyType] | None = None

    def fields(self) -> list[Field]:
        return typed_fields(FILTERABLE, self.key_types)

    def condition(self, dialect: str) -> Any:
        return compile_filter(self.filter, self.fields(), dialect)

    def orders(self, dialect: str = "postgresql") -> list[Order]:
        return parse_order_by(self.order_by, self.fields(), default=[], dialect=dialect)


def page(
    session: Session, tenant_id: str, listing: Listing, after: list[Any] | None, limit: int
) -> list[tuple[Contact, list[Any]]]:
    """Up to `limit` contacts after the position `after`, each with its own position (for the cursor)."""
    dialect = session.get_bind().dialect.name
    conditions = [ContactRow.tenant_id == tenant_id, listing.condition(dialect)]
    conditions.append(free_text(ContactRow.search_text, listing.q, dialect))
    if listing.q and dialect == "postgresql":
        custom_plans(session)
    if listing.owner_id is not None:
        conditions.append(ContactRow.owner_id == listing.owner_id)
    orders, count = listing.orders(dialect), len(READ_COLUMNS)
    if dialect != "postgresql":
        rows = keyset_page(session, READ_COLUMNS, ContactRow.id, orders, conditions, after, limit)
        associations = _associations_of(session, tenant_id, [row.id for row, _ in rows])
        return [(_to_domain(_Read._make(row[:count]), associations[row.id]), position) for row, position in rows]
    rows = keyset_page(
        session, [*READ_COLUMNS, _aggregated_associations()], ContactRow.id, orders, conditions, after, limit
    )
    return [
        (_to_domain(_Read._make(row[:count]), [Association(*a) for a in row[count] or ()]), position)
        for row, position in rows
    ]


def _aggregated_associations() -> Any:
    """Each contact's associations as a JSON array of [account_id, label, is_primary] in position
    order (NULL for none), read in the page's own statement (PostgreSQL): the planner evaluates it
    for the page's rows only, after the sort and limit (docs/adr/0075)."""
    a = AccountAssociationRow
    item = sa.func.json_build_array(a.account_id, a.label, a.is_primary)
    return (
        sa.select(sa.func.json_agg(aggregate_order_by(item, a.position)))
        .where(a.tenant_id == ContactRow.tenant_id, a.contact_id == ContactRow.id)
        .scalar_subquery()
        .label("associations")
    )


def _row(session: Session, tenant_id: str, contact_id: str, for_update: bool) -> ContactRow | None:
    query = sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id == contact_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


# The tables of accounts and custom-field definitions, import jobs, activities and the timeline
# live in their own modules on this metadata: one database, one Alembic history.
# Last: its tables join Base.metadata, and add/save/delete keep the contacts' blocking keys in step.
from services.contacts import (  # noqa: E402,F401
    dedup_store,
    import_store,
    store_accounts,
    timeline_store,
)
