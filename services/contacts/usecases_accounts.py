"""Accounts and custom-field definition use cases: each one transaction of rules, store and outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.filtering import Field, KeyType, uses_key_types
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, keyset_after, listing_scope, page_of, page_size
from crmkit.tokens import Principal
from services.contacts import accounts, custom_fields, domain, events, events_accounts, store, store_accounts
from services.contacts.accounts import Account, AccountFields
from services.contacts.custom_fields import Definition, DefinitionFields, Schema
from services.contacts.domain import Association

KEY_TYPES = {
    "TEXT": KeyType.TEXT,
    "NUMBER": KeyType.NUMBER,
    "DECIMAL": KeyType.DECIMAL,
    "DATE": KeyType.DATE,
    "BOOLEAN": KeyType.BOOLEAN,
    "SINGLE_SELECT": KeyType.TEXT,
    "MULTI_SELECT": KeyType.TEXT_LIST,
}


def schema_of(session: Session, tenant_id: str, object_type: str) -> Schema:
    """The tenant's custom-field definitions for an object type, by key (empty: free-form)."""
    return {d.data.key: d.data for d in store_accounts.definitions(session, tenant_id, object_type)}


def key_types(schema: Schema) -> dict[str, KeyType] | None:
    return {key: KEY_TYPES[d.type] for key, d in schema.items()} if schema else None


def listing_key_types(
    session: Session, tenant_id: str, object_type: str, fields: Sequence[Field], filter: str, order_by: str
) -> dict[str, KeyType] | None:
    """The custom-field key types a listing compiles with; the definitions are read only when the
    filter or order can depend on them (crmkit.filtering.uses_key_types), else untyped (None)."""
    if not uses_key_types(filter, order_by, fields):
        return None
    return key_types(schema_of(session, tenant_id, object_type))


def check_accounts_exist(session: Session, tenant_id: str, associations: Sequence[Association]) -> None:
    """Every associated account is one of the tenant's (another tenant's id is as unknown as a made-up one)."""
    ids = [a.account_id for a in associations]
    found = store_accounts.existing_account_ids(session, tenant_id, ids)
    missing = [
        FieldViolation(f"accountAssociations[{i}].accountId", f"no account {account_id}")
        for i, account_id in enumerate(ids)
        if account_id not in found
    ]
    if missing:
        raise InvalidArgument.of(missing)


class Accounts:
    def __init__(self, database: Database, outbox: Outbox, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    def create(self, principal: Principal, data: AccountFields) -> Account:
        if principal.own_records_only and not data.owner_id:  # what a rep creates is theirs
            data = replace(data, owner_id=principal.subject)
        with self.database.transaction() as session:
            schema = schema_of(session, principal.tenant_id, "ACCOUNT")
            account = accounts.new_account(new_id(), principal.tenant_id, data, self.clock(), schema)
            _refuse_duplicate_external_id(session, account)
            store_accounts.add_account(session, account)
            self.outbox.add(
                session, events_accounts.account_created(account), tenant_id=account.tenant_id, subject=account.id
            )
        return account

    def get(self, principal: Principal, account_id: str) -> Account:
        with self.database.transaction() as session:
            account = _visible(principal, store_accounts.get_account(session, principal.tenant_id, account_id))
        if account is None:
            raise NotFound.resource("account", account_id)
        return account

    def list(
        self,
        principal: Principal,
        requested_size: int,
        page_token: str,
        filter: str = "",
        order_by: str = "",
        q: str = "",
    ) -> tuple[list[Account], str]:
        size = page_size(requested_size)
        scope = listing_scope("accounts", filter, order_by, q)
        after = keyset_after(page_token, scope)
        if len(q) > 200:
            raise InvalidArgument.of([FieldViolation("q", "must be at most 200 characters")])
        with self.database.transaction() as session:
            listing = store_accounts.AccountListing(
                filter,
                order_by,
                principal.subject if principal.own_records_only else None,
                q,
                listing_key_types(
                    session, principal.tenant_id, "ACCOUNT", store_accounts.ACCOUNT_FIELDS, filter, order_by
                ),
            )
            try:
                found = store_accounts.account_page(session, principal.tenant_id, listing, after, size + 1)
            except LookupError:
                raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")]) from None
        page, token = page_of(found, size, lambda item: item[1], scope)
        return [account for account, _ in page], token

    def update(
        self, principal: Principal, account_id: str, patch: AccountFields, mask: Sequence[str], etag: str
    ) -> Account:
        with self.database.transaction() as session:
            current = _visible(
                principal, store_accounts.get_account(session, principal.tenant_id, account_id, for_update=True)
            )
            if current is None:
                raise NotFound.resource("account", account_id)
            accounts.check_etag(current, etag)
            schema = schema_of(session, principal.tenant_id, "ACCOUNT")
            updated, changed = accounts.apply_update(current, patch, mask, self.clock(), schema)
            if "external_id" in changed:
                _refuse_duplicate_external_id(session, updated)
            if changed:
                store_accounts.save_account(session, updated)
                if "name" in changed:  # contacts are found by their accounts' names
                    contact_ids = store_accounts.contacts_associated_with(session, updated.tenant_id, updated.id)
                    store.refresh_search_text(session, updated.tenant_id, contact_ids)
                event = events_accounts.account_updated(updated, changed)
                self.outbox.add(session, event, tenant_id=updated.tenant_id, subject=updated.id)
        return updated

    def delete(self, principal: Principal, account_id: str, etag: str) -> None:
        """Deletes the account and, in the same transaction, its associations (docs/adr/0032)."""
        with self.database.transaction() as session:
            tenant_id = principal.tenant_id
            current = _visible(principal, store_accounts.get_account(session, tenant_id, account_id, for_update=True))
            if current is None:
                raise NotFound.resource("account", account_id)
            accounts.check_etag(current, etag)
            now = self.clock()
            for contact_id in store_accounts.contacts_associated_with(session, tenant_id, account_id):
                contact = store.get(session, tenant_id, contact_id, for_update=True)
                if contact is None:  # pragma: no cover - associations go with their contact
                    continue
                kept = tuple(a for a in contact.data.account_associations if a.account_id != account_id)
                data = replace(contact.data, account_associations=kept, account_ids=tuple(a.account_id for a in kept))
                updated = replace(contact, data=data, update_time=now, etag=domain.compute_etag(contact.id, data, now))
                store.save(session, updated)
                event = events.contact_updated(updated, ["account_associations", "account_ids"])
                self.outbox.add(session, event, tenant_id=tenant_id, subject=contact_id)
            store_accounts.delete_account(session, tenant_id, account_id)
            self.outbox.add(
                session, events_accounts.account_deleted(account_id), tenant_id=tenant_id, subject=account_id
            )


def _refuse_duplicate_external_id(session: Session, account: Account) -> None:
    if not account.data.external_id:
        return
    existing = store_accounts.with_external_id(
        session, account.tenant_id, account.data.external_id, other_than=account.id
    )
    if existing is not None:
        raise AlreadyExists(
            f"account {existing} already has external id {account.data.external_id}",
            [FieldViolation("external_id", f"already used by account {existing}")],
        )


def _visible(principal: Principal, account: Account | None) -> Account | None:
    """A caller limited to its own records sees another owner's account as absent (ADR 13)."""
    if account is not None and principal.own_records_only and account.data.owner_id != principal.subject:
        return None
    return account


class CustomFieldDefinitions:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, principal: Principal, data: DefinitionFields) -> Definition:
        definition = custom_fields.new_definition(new_id(), principal.tenant_id, data, self.clock())
        with self.database.transaction() as session:
            store_accounts.lock_definitions(session, principal.tenant_id, definition.data.object_type)
            if definition.data.key in schema_of(session, principal.tenant_id, definition.data.object_type):
                raise AlreadyExists(
                    f"{definition.data.object_type.lower()} custom field {definition.data.key} is already defined",
                    [FieldViolation("key", "is already defined for this object type")],
                )
            store_accounts.add_definition(session, definition)
        return definition

    def get(self, principal: Principal, definition_id: str) -> Definition:
        with self.database.transaction() as session:
            found = store_accounts.get_definition(session, principal.tenant_id, definition_id)
        if found is None:
            raise NotFound.resource("custom field definition", definition_id)
        return found

    def list(
        self, principal: Principal, requested_size: int, page_token: str, object_type: str = ""
    ) -> tuple[list[Definition], str]:
        size = page_size(requested_size)
        scope = listing_scope("customFieldDefinitions", object_type)
        after = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            found = store_accounts.definitions(session, principal.tenant_id, object_type)
        if isinstance(after, str):
            found = [d for d in found if d.id > after]
        elif after is not None:
            raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")])
        return page_of(found[: size + 1], size, lambda d: d.id, scope)

    def update(
        self, principal: Principal, definition_id: str, patch: DefinitionFields, mask: Sequence[str], etag: str
    ) -> Definition:
        with self.database.transaction() as session:
            current = store_accounts.get_definition(session, principal.tenant_id, definition_id, for_update=True)
            if current is None:
                raise NotFound.resource("custom field definition", definition_id)
            custom_fields.check_etag(current, etag)
            updated, changed = custom_fields.apply_update(current, patch, mask, self.clock())
            store_accounts.lock_definitions(session, principal.tenant_id, current.data.object_type)
            retyping = "type" in changed or (
                "options" in changed and set(current.data.options) - set(updated.data.options)
            )
            if retyping and store_accounts.key_in_use(
                session, principal.tenant_id, current.data.object_type, current.data.key
            ):
                what = "type" if "type" in changed else "options"
                raise FailedPrecondition(
                    f"records have values for {current.data.key}; its {what} cannot change while they do",
                    [FieldViolation(what, "cannot change while records have values for this field")],
                )
            if changed:
                store_accounts.save_definition(session, updated)
        return updated

    def delete(self, principal: Principal, definition_id: str, etag: str) -> None:
        """Refused while a record has a value for the field (docs/adr/0033)."""
        with self.database.transaction() as session:
            current = store_accounts.get_definition(session, principal.tenant_id, definition_id, for_update=True)
            if current is None:
                raise NotFound.resource("custom field definition", definition_id)
            custom_fields.check_etag(current, etag)
            store_accounts.lock_definitions(session, principal.tenant_id, current.data.object_type)
            if store_accounts.key_in_use(session, principal.tenant_id, current.data.object_type, current.data.key):
                raise FailedPrecondition(
                    f"records have values for {current.data.key}; clear them before deleting its definition",
                    [FieldViolation("id", "the field still has values")],
                )
            store_accounts.delete_definition(session, principal.tenant_id, definition_id)
