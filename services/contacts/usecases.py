"""Contacts use cases: each one transaction of domain rules, store and outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import keyset_after, listing_scope, page_of, page_size
from crmkit.tokens import Principal
from services.contacts import activities, dedup_store, domain, events, store
from services.contacts.custom_fields import Schema
from services.contacts.domain import Contact, ContactFields
from services.contacts.usecases_accounts import check_accounts_exist, listing_key_types, schema_of


class Contacts:
    def __init__(self, database: Database, outbox: Outbox, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    def create(self, principal: Principal, data: ContactFields, allow_duplicate_email: bool = False) -> Contact:
        if principal.own_records_only and not data.owner_id:  # what a rep creates is theirs
            data = replace(data, owner_id=principal.subject)
        with self.database.transaction() as session:
            schema: Schema = schema_of(session, principal.tenant_id, "CONTACT")
            contact = domain.new_contact(new_id(), principal.tenant_id, data, self.clock(), schema)
            check_accounts_exist(session, contact.tenant_id, contact.data.account_associations)
            if not allow_duplicate_email:
                _refuse_duplicate_email(session, contact, contact.data.emails, "create")
            store.add(session, contact)
            self.outbox.add(session, events.contact_created(contact), tenant_id=contact.tenant_id, subject=contact.id)
        return contact

    def get(self, principal: Principal, contact_id: str) -> Contact:
        with self.database.transaction() as session:
            contact = _visible(principal, _resolved(session, principal.tenant_id, contact_id))
        if contact is None:
            raise NotFound.resource("contact", contact_id)
        return contact

    def list(
        self,
        principal: Principal,
        requested_size: int,
        page_token: str,
        filter: str = "",
        order_by: str = "",
        q: str = "",
    ) -> tuple[list[Contact], str]:
        size = page_size(requested_size)
        scope = listing_scope("contacts", filter, order_by, q)
        after = keyset_after(page_token, scope)
        if len(q) > 200:
            raise InvalidArgument.of([FieldViolation("q", "must be at most 200 characters")])
        with self.database.transaction() as session:
            listing = store.Listing(
                filter,
                order_by,
                principal.subject if principal.own_records_only else None,
                q,
                listing_key_types(session, principal.tenant_id, "CONTACT", store.FILTERABLE, filter, order_by),
            )
            try:
                found = store.page(session, principal.tenant_id, listing, after, size + 1)
            except LookupError:
                raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")]) from None
        page, token = page_of(found, size, lambda item: item[1], scope)
        return [contact for contact, _ in page], token

    def update(
        self,
        principal: Principal,
        contact_id: str,
        patch: ContactFields,
        mask: Sequence[str],
        etag: str,
        allow_duplicate_email: bool = False,
    ) -> Contact:
        with self.database.transaction() as session:
            current = _visible(principal, _resolved(session, principal.tenant_id, contact_id, for_update=True))
            if current is None:
                raise NotFound.resource("contact", contact_id)
            domain.check_etag(current, etag)
            schema = schema_of(session, principal.tenant_id, "CONTACT")
            updated, changed = domain.apply_update(current, patch, mask, self.clock(), schema)
            if "account_associations" in changed:
                check_accounts_exist(session, updated.tenant_id, updated.data.account_associations)
            before = {e.lower() for e in current.data.emails}
            added = [e for e in updated.data.emails if e.lower() not in before]
            if added and not allow_duplicate_email:
                _refuse_duplicate_email(session, updated, added, "update")
            if changed:
                store.save(session, updated)
                event = events.contact_updated(updated, changed)
                self.outbox.add(session, event, tenant_id=updated.tenant_id, subject=updated.id)
        return updated

    def delete(self, principal: Principal, contact_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            current = _visible(principal, store.get(session, principal.tenant_id, contact_id, for_update=True))
            if current is None:
                raise NotFound.resource("contact", contact_id)
            domain.check_etag(current, etag)
            store.delete(session, principal.tenant_id, contact_id)
            # Its timeline and activity links go in the same transaction (docs/adr/0035).
            activities.forget_contact(session, self.outbox, principal.tenant_id, contact_id, self.clock())
            self.outbox.add(
                session, events.contact_deleted(contact_id), tenant_id=current.tenant_id, subject=contact_id
            )


def _refuse_duplicate_email(session: Session, contact: Contact, emails: Sequence[str], verb: str) -> None:
    """Refuse an address (primary or further) that another contact of the tenant already has."""
    for email in emails:
        existing = store.with_email(session, contact.tenant_id, email)
        if existing is not None and existing != contact.id:
            name = "email" if email == contact.data.email else _field_of(contact.data.additional_emails, email)
            raise AlreadyExists(
                f"contact {existing} already has this email; set allowDuplicateEmail to {verb} anyway",
                [FieldViolation(name, f"already used by contact {existing}")],
            )


def _field_of(additional: Sequence[str], email: str) -> str:
    return f"additional_emails[{list(additional).index(email)}]"


def _resolved(session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False) -> Contact | None:
    """The contact, or for a contact merged into another, the one it was merged into (ADR 37):
    the answer's id then differs from the id asked for."""
    contact = store.get(session, tenant_id, contact_id, for_update=for_update)
    if contact is None and (winner_id := dedup_store.redirect_of(session, tenant_id, contact_id)) is not None:
        contact = store.get(session, tenant_id, winner_id, for_update=for_update)
    return contact


def _visible(principal: Principal, contact: Contact | None) -> Contact | None:
    """A caller limited to its own records sees another owner's contact as absent (like another tenant's)."""
    if contact is not None and principal.own_records_only and contact.data.owner_id != principal.subject:
        return None
    return contact
