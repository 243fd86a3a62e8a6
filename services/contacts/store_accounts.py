"""Accounts, contact-account associations and custom-field definitions: tables and queries.

They share the contacts service's metadata and database (services/contacts/store.py imports this
module so that migrations and the model comparison see every table).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime
from crmkit.filtering import Field, KeyType, Kind, Order, compile_filter, keyset_page, parse_order_by
from services.contacts.accounts import Account, AccountFields, Address, search_text
from services.contacts.custom_fields import Definition, DefinitionFields
from services.contacts.store import AccountAssociationRow, Base, ContactRow, custom_plans, free_text, typed_fields


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.Index("ix_accounts_tenant_id_id", "tenant_id", "id"),
        # external_id is unique per tenant when set ('' is "not set": the index is partial).
        sa.Index(
            "ux_accounts_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=sa.text("external_id <> ''"),
            sqlite_where=sa.text("external_id <> ''"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    domain: Mapped[str] = mapped_column(sa.String(253))
    industry: Mapped[str] = mapped_column(sa.String(100))
    employee_count: Mapped[int] = mapped_column(sa.Integer())
    address: Mapped[dict[str, Any]] = mapped_column(JSONType)
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    custom_fields: Mapped[dict[str, object]] = mapped_column(JSONType)
    external_id: Mapped[str] = mapped_column(sa.String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))
    # Lower-cased name and domain: what free text `q` matches.
    search_text: Mapped[str] = mapped_column(sa.Text())


class CustomFieldDefinitionRow(Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "object_type", "key", name="uq_custom_field_definitions_tenant_type_key"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    object_type: Mapped[str] = mapped_column(sa.String(20))
    key: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(20))
    options: Mapped[list[str]] = mapped_column(JSONType)
    required: Mapped[bool] = mapped_column(sa.Boolean())
    description: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


# ---- accounts


def _account(row: AccountRow) -> Account:
    address = row.address or {}
    data = AccountFields(
        name=row.name,
        domain=row.domain,
        industry=row.industry,
        employee_count=row.employee_count,
        address=Address(
            tuple(address.get("address_lines", ())),
            address.get("locality", ""),
            address.get("administrative_area", ""),
            address.get("postal_code", ""),
            address.get("region_code", ""),
        ),
        owner_id=row.owner_id,
        custom_fields=dict(row.custom_fields),
        external_id=row.external_id,
    )
    return Account(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def _write_account(row: AccountRow, account: Account) -> None:
    data = account.data
    row.name, row.domain, row.industry = data.name, data.domain, data.industry
    row.employee_count, row.owner_id, row.external_id = data.employee_count, data.owner_id, data.external_id
    row.address = {**data.address._asdict(), "address_lines": list(data.address.address_lines)}
    row.custom_fields = dict(data.custom_fields)
    row.update_time, row.etag = account.update_time, account.etag
    row.search_text = search_text(data)


def add_account(session: Session, account: Account) -> None:
    row = AccountRow(id=account.id, tenant_id=account.tenant_id, create_time=account.create_time)
    _write_account(row, account)
    session.add(row)


def get_account(session: Session, tenant_id: str, account_id: str, *, for_update: bool = False) -> Account | None:
    query = sa.select(AccountRow).where(AccountRow.tenant_id == tenant_id, AccountRow.id == account_id)
    row = session.scalars(query.with_for_update() if for_update else query).first()
    return None if row is None else _account(row)


def save_account(session: Session, account: Account) -> None:
    row = session.scalars(
        sa.select(AccountRow).where(AccountRow.tenant_id == account.tenant_id, AccountRow.id == account.id)
    ).one()
    _write_account(row, account)


def delete_account(session: Session, tenant_id: str, account_id: str) -> None:
    session.execute(sa.delete(AccountRow).where(AccountRow.tenant_id == tenant_id, AccountRow.id == account_id))


def with_external_id(session: Session, tenant_id: str, external_id: str, *, other_than: str = "") -> str | None:
    """The id of the tenant's account with this external id, serialising writers of that id."""
    if session.get_bind().dialect.name == "postgresql":
        key = f"{tenant_id}/account-external/{external_id}"
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))
    query = sa.select(AccountRow.id).where(
        AccountRow.tenant_id == tenant_id, AccountRow.external_id == external_id, AccountRow.id != other_than
    )
    return session.scalars(query.limit(1)).first()


def existing_account_ids(session: Session, tenant_id: str, account_ids: list[str]) -> set[str]:
    if not account_ids:
        return set()
    query = sa.select(AccountRow.id).where(AccountRow.tenant_id == tenant_id, AccountRow.id.in_(account_ids))
    return set(session.scalars(query))


def contacts_associated_with(session: Session, tenant_id: str, account_id: str) -> list[str]:
    query = sa.select(AccountAssociationRow.contact_id).where(
        AccountAssociationRow.tenant_id == tenant_id, AccountAssociationRow.account_id == account_id
    )
    return list(session.scalars(query.order_by(AccountAssociationRow.contact_id)))


ACCOUNT_FIELDS = [
    Field("name", AccountRow.name, Kind.TEXT, sortable=True),
    Field("domain", AccountRow.domain, Kind.TEXT, sortable=True),
    Field("industry", AccountRow.industry, Kind.TEXT, sortable=True),
    Field("employeeCount", AccountRow.employee_count, Kind.NUMBER, sortable=True),
    Field("ownerId", AccountRow.owner_id, Kind.ENUM),
    Field("externalId", AccountRow.external_id, Kind.ENUM),
    Field("customFields", AccountRow.custom_fields, Kind.JSON_OBJECT),
    Field("createTime", AccountRow.create_time, Kind.TIMESTAMP, sortable=True),
    Field("updateTime", AccountRow.update_time, Kind.TIMESTAMP, sortable=True),
]


@dataclass(frozen=True)
class AccountListing:
    filter: str
    order_by: str
    owner_id: str | None = None
    q: str = ""
    key_types: dict[str, KeyType] | None = None

    def fields(self) -> list[Field]:
        return typed_fields(ACCOUNT_FIELDS, self.key_types)

    def orders(self, dialect: str) -> list[Order]:
        return parse_order_by(self.order_by, self.fields(), default=[], dialect=dialect)


def account_page(
    session: Session, tenant_id: str, listing: AccountListing, after: list[Any] | None, limit: int
) -> list[tuple[Account, list[Any]]]:
    dialect = session.get_bind().dialect.name
    conditions = [AccountRow.tenant_id == tenant_id, compile_filter(listing.filter, listing.fields(), dialect)]
    conditions.append(free_text(AccountRow.search_text, listing.q, dialect))
    if listing.q and dialect == "postgresql":
        custom_plans(session)
    if listing.owner_id is not None:
        conditions.append(AccountRow.owner_id == listing.owner_id)
    rows = keyset_page(session, AccountRow, AccountRow.id, listing.orders(dialect), conditions, after, limit)
    return [(_account(row), position) for row, position in rows]


# ---- custom-field definitions


def _definition(row: CustomFieldDefinitionRow) -> Definition:
    data = DefinitionFields(
        object_type=row.object_type,
        key=row.key,
        label=row.label,
        type=row.type,
        options=tuple(row.options),
        required=row.required,
        description=row.description,
    )
    return Definition(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def _write_definition(row: CustomFieldDefinitionRow, definition: Definition) -> None:
    data = definition.data
    row.object_type, row.key, row.label, row.type = data.object_type, data.key, data.label, data.type
    row.options, row.required, row.description = list(data.options), data.required, data.description
    row.update_time, row.etag = definition.update_time, definition.etag


def add_definition(session: Session, definition: Definition) -> None:
    row = CustomFieldDefinitionRow(id=definition.id, tenant_id=definition.tenant_id, create_time=definition.create_time)
    _write_definition(row, definition)
    session.add(row)


def get_definition(
    session: Session, tenant_id: str, definition_id: str, *, for_update: bool = False
) -> Definition | None:
    query = sa.select(CustomFieldDefinitionRow).where(
        CustomFieldDefinitionRow.tenant_id == tenant_id, CustomFieldDefinitionRow.id == definition_id
    )
    row = session.scalars(query.with_for_update() if for_update else query).first()
    return None if row is None else _definition(row)


def save_definition(session: Session, definition: Definition) -> None:
    row = session.get_one(CustomFieldDefinitionRow, definition.id)
    _write_definition(row, definition)


def delete_definition(session: Session, tenant_id: str, definition_id: str) -> None:
    session.execute(
        sa.delete(CustomFieldDefinitionRow).where(
            CustomFieldDefinitionRow.tenant_id == tenant_id, CustomFieldDefinitionRow.id == definition_id
        )
    )


def definitions(session: Session, tenant_id: str, object_type: str = "") -> list[Definition]:
    query = sa.select(CustomFieldDefinitionRow).where(CustomFieldDefinitionRow.tenant_id == tenant_id)
    if object_type:
        query = query.where(CustomFieldDefinitionRow.object_type == object_type)
    return [_definition(r) for r in session.scalars(query.order_by(CustomFieldDefinitionRow.id))]


def lock_definitions(session: Session, tenant_id: str, object_type: str) -> None:
    """Serialise definition changes with writes of records of the object type (value checks)."""
    if session.get_bind().dialect.name == "postgresql":
        key = f"{tenant_id}/custom-fields/{object_type}"
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))


def key_in_use(session: Session, tenant_id: str, object_type: str, key: str) -> bool:
    """Whether a record of the object type has a (non-null) value for the key."""
    table: Any = ContactRow if object_type == "CONTACT" else AccountRow
    if session.get_bind().dialect.name == "postgresql":
        present = sa.type_coerce(table.custom_fields, sa.dialects.postgresql.JSONB).has_key(key)
    else:
        present = sa.func.json_type(table.custom_fields, f'$."{key}"').is_not(None)
    query = sa.select(1).where(table.tenant_id == tenant_id, present).limit(1)
    return session.execute(query).first() is not None
