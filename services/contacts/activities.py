"""Activities use cases: each one transaction of rules, store (activity and its timeline entries)
and outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from crm.contacts.v1 import events_pb2
from google.protobuf import field_mask_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FieldViolation, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.pagination import keyset_after, listing_scope, page_of, page_size
from crmkit.tokens import Principal
from services.contacts import activity_rules as rules
from services.contacts import timeline_store as store
from services.contacts.activity_messages import activity_to_proto
from services.contacts.activity_rules import Activity, ActivityFields


class Activities:
    def __init__(self, database: Database, outbox: Outbox, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.outbox = outbox
        self.clock = clock

    def create(self, principal: Principal, data: ActivityFields) -> Activity:
        if principal.own_records_only and not data.owner_id:  # what a rep logs is theirs
            data = replace(data, owner_id=principal.subject)
        activity = rules.new_activity(new_id(), principal.tenant_id, data, self.clock())
        with self.database.transaction() as session:
            _check_links(session, principal, activity.data, ())
            store.add_activity(session, activity)
            event = events_pb2.ActivityCreated(activity=activity_to_proto(activity))
            self.outbox.add(session, event, tenant_id=activity.tenant_id, subject=activity.id)
        return activity

    def get(self, principal: Principal, activity_id: str) -> Activity:
        with self.database.transaction() as session:
            activity = _visible(principal, store.get_activity(session, principal.tenant_id, activity_id))
        if activity is None:
            raise NotFound.resource("activity", activity_id)
        return activity

    def list(
        self, principal: Principal, requested_size: int, page_token: str, filter: str = "", order_by: str = ""
    ) -> tuple[list[Activity], str]:
        size = page_size(requested_size)
        listing = store.ActivityListing(filter, order_by, principal.subject if principal.own_records_only else None)
        scope = listing_scope("activities", filter, order_by)
        after = keyset_after(page_token, scope)
        with self.database.transaction() as session:
            try:
                found = store.activity_page(session, principal.tenant_id, listing, after, size + 1)
            except LookupError:
                raise InvalidArgument.of([FieldViolation("page_token", "belongs to a different listing")]) from None
        page, token = page_of(found, size, lambda item: item[1], scope)
        return [activity for activity, _ in page], token

    def update(
        self, principal: Principal, activity_id: str, patch: ActivityFields, mask: Sequence[str], etag: str
    ) -> Activity:
        with self.database.transaction() as session:
            current = _visible(
                principal, store.get_activity(session, principal.tenant_id, activity_id, for_update=True)
            )
            if current is None:
                raise NotFound.resource("activity", activity_id)
            rules.check_etag(current, etag)
            updated, changed = rules.apply_update(current, patch, mask, self.clock())
            if changed:
                _check_links(session, principal, updated.data, current.data.contact_ids)
                store.save_activity(session, updated)
                event = events_pb2.ActivityUpdated(
                    activity=activity_to_proto(updated), changed_fields=field_mask_pb2.FieldMask(paths=changed)
                )
                self.outbox.add(session, event, tenant_id=updated.tenant_id, subject=updated.id)
        return updated

    def delete(self, principal: Principal, activity_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            current = _visible(
                principal, store.get_activity(session, principal.tenant_id, activity_id, for_update=True)
            )
            if current is None:
                raise NotFound.resource("activity", activity_id)
            rules.check_etag(current, etag)
            store.delete_activity(session, principal.tenant_id, activity_id)
            event = events_pb2.ActivityDeleted(activity_id=activity_id)
            self.outbox.add(session, event, tenant_id=current.tenant_id, subject=activity_id)


def forget_contact(session: Session, outbox: Outbox, tenant_id: str, contact_id: str, now: dt.datetime) -> None:
    """In a contact's delete transaction: its timeline entries go, activities lose the link (and
    those left with no link go), each change published (docs/adr/0035)."""
    changed, deleted = store.forget_contact(session, tenant_id, contact_id, now)
    events: list[tuple[events_pb2.ActivityUpdated | events_pb2.ActivityDeleted, str, str]] = [
        (
            events_pb2.ActivityUpdated(
                activity=activity_to_proto(a), changed_fields=field_mask_pb2.FieldMask(paths=["contact_ids"])
            ),
            tenant_id,
            a.id,
        )
        for a in changed
    ]
    events += [(events_pb2.ActivityDeleted(activity_id=i), tenant_id, i) for i in deleted]
    outbox.add_all(session, events)


def _check_links(session: Session, principal: Principal, data: ActivityFields, already: Sequence[str]) -> None:
    """Linked contacts must be the tenant's (and visible to the caller); accounts must be the tenant's.

    Links the activity already had stay allowed, so a rep can edit an activity whose contact moved on.
    """
    owner = principal.subject if principal.own_records_only else None
    wanted = [c for c in data.contact_ids if c not in already]
    found = store.visible_contact_ids(session, principal.tenant_id, wanted, owner)
    violations = [
        FieldViolation(f"contact_ids[{i}]", f"no contact {c} in this tenant")
        for i, c in enumerate(data.contact_ids)
        if c in wanted and c not in found
    ]
    missing = set(store.missing_account_ids(session, principal.tenant_id, data.account_ids))
    violations += [
        FieldViolation(f"account_ids[{i}]", f"no account {a} in this tenant")
        for i, a in enumerate(data.account_ids)
        if a in missing
    ]
    if violations:
        raise InvalidArgument.of(violations)


def _visible(principal: Principal, activity: Activity | None) -> Activity | None:
    """A caller limited to its own records sees another owner's activity as absent (ADR 13)."""
    if activity is not None and principal.own_records_only and activity.data.owner_id != principal.subject:
        return None
    return activity
