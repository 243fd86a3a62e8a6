"""Activities and timeline tables and their queries (same database and metadata as store.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, utcnow
from crmkit.filtering import (
    Field,
    Kind,
    Order,
    after_position,
    compile_filter,
    list_contains,
    order_clauses,
    parse_order_by,
)
from crmkit.ids import new_id
from services.contacts import store_accounts
from services.contacts.activity_rules import Activity, ActivityFields, without_contact
from services.contacts.store import AdditionalEmailRow, Base, ContactRow
from services.contacts.timeline_rules import CONTACTS, Entry, activity_entries

# PostgreSQL-only GIN indexes (migration 0004) serve "activities of this contact/account" (JSONB @>);
# SQLite scans the tenant's activities instead. Left out of the model/migration comparison.
ACTIVITY_LINK_INDEXES = ("ix_activities_contact_ids_gin", "ix_activities_account_ids_gin")
Base.metadata.info["unmanaged"] = (*Base.metadata.info.get("unmanaged", ()), *ACTIVITY_LINK_INDEXES)


class ActivityRow(Base):
    __tablename__ = "activities"
    __table_args__ = (sa.Index("ix_activities_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    kind: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text())
    occur_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done: Mapped[bool] = mapped_column(sa.Boolean())
    done_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    contact_ids: Mapped[list[str]] = mapped_column(JSONType)
    account_ids: Mapped[list[str]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class TimelineEntryRow(Base):
    """One fact on one contact's and/or one account's timeline ('' when not about one)."""

    __tablename__ = "timeline_entries"
    __table_args__ = (
        sa.Index("ix_timeline_entries_contact", "tenant_id", "contact_id", "occur_time"),
        sa.Index("ix_timeline_entries_account", "tenant_id", "account_id", "occur_time"),
        sa.Index("ix_timeline_entries_source", "tenant_id", "source", "source_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(400))
    summary: Mapped[str] = mapped_column(sa.Text())
    occur_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[str] = mapped_column(sa.String(128))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ForgottenContactRow(Base):
    """A deleted (or merged away) contact: events about it that arrive later are dropped, or filed
    under the contact it was merged into (successor_id)."""

    __tablename__ = "timeline_forgotten_contacts"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    successor_id: Mapped[str] = mapped_column(sa.String(64))
    forget_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- activities -------------------------------------------------------------------------------


def _activity(row: ActivityRow) -> Activity:
    data = ActivityFields(
        kind=row.kind,
        subject=row.subject,
        body=row.body,
        occur_time=row.occur_time,
        due_time=row.due_time,
        done=row.done,
        owner_id=row.owner_id,
        contact_ids=tuple(row.contact_ids),
        account_ids=tuple(row.account_ids),
    )
    return Activity(row.id, row.tenant_id, data, row.done_time, row.create_time, row.update_time, row.etag)


def _write_activity(row: ActivityRow, activity: Activity) -> None:
    data = activity.data
    row.kind, row.subject, row.body, row.owner_id = data.kind, data.subject, data.body, data.owner_id
    row.occur_time, row.due_time, row.done, row.done_time = (
        data.occur_time,
        data.due_time,
        data.done,
        activity.done_time,
    )
    row.contact_ids, row.account_ids = list(data.contact_ids), list(data.account_ids)
    row.update_time, row.etag = activity.update_time, activity.etag


def add_activity(session: Session, activity: Activity) -> None:
    row = ActivityRow(id=activity.id, tenant_id=activity.tenant_id, create_time=activity.create_time)
    _write_activity(row, activity)
    session.add(row)
    _file_activity(session, activity)


def get_activity(session: Session, tenant_id: str, activity_id: str, *, for_update: bool = False) -> Activity | None:
    query = sa.select(ActivityRow).where(ActivityRow.tenant_id == tenant_id, ActivityRow.id == activity_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    return None if row is None else _activity(row)


def save_activity(session: Session, activity: Activity) -> None:
    row = session.get(ActivityRow, activity.id)
    if row is None or row.tenant_id != activity.tenant_id:
        raise LookupError(activity.id)
    _write_activity(row, activity)
    _file_activity(session, activity)


def delete_activity(session: Session, tenant_id: str, activity_id: str) -> None:
    session.execute(sa.delete(ActivityRow).where(ActivityRow.tenant_id == tenant_id, ActivityRow.id == activity_id))
    _delete_entries(session, tenant_id, CONTACTS, activity_id)


def _file_activity(session: Session, activity: Activity) -> None:
    """The activity's timeline entries, rewritten in the transaction that changed it."""
    _delete_entries(session, activity.tenant_id, CONTACTS, activity.id)
    add_entries(session, activity.tenant_id, activity_entries(activity))


ACTIVITY_FIELDS = [
    Field("kind", ActivityRow.kind, Kind.ENUM),
    Field("subject", ActivityRow.subject, Kind.TEXT, sortable=True),
    Field("ownerId", ActivityRow.owner_id, Kind.ENUM),
    Field("done", ActivityRow.done, Kind.BOOLEAN),
    Field("contactIds", ActivityRow.contact_ids, Kind.TEXT_LIST),
    Field("accountIds", ActivityRow.account_ids, Kind.TEXT_LIST),
    Field("occurTime", ActivityRow.occur_time, Kind.TIMESTAMP, sortable=True),
    Field("dueTime", ActivityRow.due_time, Kind.TIMESTAMP, sortable=True),
    Field("createTime", ActivityRow.create_time, Kind.TIMESTAMP, sortable=True),
    Field("updateTime", ActivityRow.update_time, Kind.TIMESTAMP, sortable=True),
]


@dataclass(frozen=True)
class ActivityListing:
    filter: str
    order_by: str
    # Set for a caller who may see only the records it owns (ADR 13).
    owner_id: str | None = None

    def orders(self) -> list[Order]:
        return parse_order_by(self.order_by, ACTIVITY_FIELDS, default=[])


def activity_page(
    session: Session, tenant_id: str, listing: ActivityListing, after: list[Any] | None, limit: int
) -> list[tuple[Activity, list[Any]]]:
    orders = listing.orders()
    query = sa.select(ActivityRow).where(ActivityRow.tenant_id == tenant_id)
    condition = compile_filter(listing.filter, ACTIVITY_FIELDS, _dialect(session))
    if condition is not None:
        query = query.where(condition)
    if listing.owner_id is not None:
        query = query.where(ActivityRow.owner_id == listing.owner_id)
    if after:
        if len(after) != len(orders) + 1:
            raise LookupError("position does not match the order")
        query = query.where(after_position(orders, ActivityRow.id, after))
    for order in orders:  # rows without the time would break the keyset: they are not in a timed order
        query = query.where(order.field.column.is_not(None))
    rows = session.scalars(query.order_by(*order_clauses(orders, ActivityRow.id)).limit(limit)).all()
    return [(_activity(r), [getattr(r, o.field.column.key) for o in orders] + [r.id]) for r in rows]


# --- links to contacts and accounts -----------------------------------------------------------


def visible_contact_ids(session: Session, tenant_id: str, ids: Iterable[str], owner_id: str | None) -> set[str]:
    """Which of these contacts exist in the tenant (and, for a caller limited to its own records,
    are owned by it)."""
    wanted = list(set(ids))
    if not wanted:
        return set()
    query = sa.select(ContactRow.id).where(ContactRow.tenant_id == tenant_id, ContactRow.id.in_(wanted))
    if owner_id is not None:
        query = query.where(ContactRow.owner_id == owner_id)
    return set(session.scalars(query))


def missing_account_ids(session: Session, tenant_id: str, ids: Sequence[str]) -> list[str]:
    """The account ids that are not accounts of the tenant."""
    found = store_accounts.existing_account_ids(session, tenant_id, list(ids))
    return [i for i in ids if i not in found]


def _activities_of_contact(session: Session, tenant_id: str, contact_id: str) -> list[ActivityRow]:
    query = sa.select(ActivityRow).where(
        ActivityRow.tenant_id == tenant_id, list_contains(ActivityRow.contact_ids, contact_id, _dialect(session))
    )
    return list(session.scalars(query.order_by(ActivityRow.id).with_for_update()))


def forget_contact(
    session: Session, tenant_id: str, contact_id: str, now: dt.datetime
) -> tuple[list[Activity], list[str]]:
    """Remove a deleted contact from the timeline and from activities, in the delete's transaction.

    Its timeline entries are deleted; activities lose the link, and an activity left with no contact
    and no account is deleted. A tombstone makes events about it that arrive later change nothing.
    Returns the activities changed and the ids of those deleted (for their events).
    """
    session.execute(
        sa.delete(TimelineEntryRow).where(
            TimelineEntryRow.tenant_id == tenant_id,
            TimelineEntryRow.contact_id == contact_id,
            TimelineEntryRow.account_id == "",
        )
    )
    session.execute(
        sa.update(TimelineEntryRow)
        .where(TimelineEntryRow.tenant_id == tenant_id, TimelineEntryRow.contact_id == contact_id)
        .values(contact_id="")
    )
    changed, deleted = [], []
    for row in _activities_of_contact(session, tenant_id, contact_id):
        activity = without_contact(_activity(row), contact_id, now)
        if activity.data.contact_ids or activity.data.account_ids:
            save_activity(session, activity)
            changed.append(activity)
        else:
            delete_activity(session, tenant_id, activity.id)
            deleted.append(activity.id)
    if session.get(ForgottenContactRow, (tenant_id, contact_id)) is None:
        session.add(ForgottenContactRow(tenant_id=tenant_id, contact_id=contact_id, successor_id="", forget_time=now))
    return changed, deleted


def repoint_contact(session: Session, tenant_id: str, loser_id: str, winner_id: str) -> None:
    """Move a contact's activities and timeline entries to another contact (a merge keeps the winner).

    Activities linked to the loser link the winner instead (once); the timeline entries follow; events
    about the loser that arrive later are filed under the winner. Publishes nothing: the merge that
    calls it publishes what happened.
    """
    now = utcnow()
    for row in _activities_of_contact(session, tenant_id, loser_id):
        activity = _activity(row)
        linked = tuple(dict.fromkeys(winner_id if c == loser_id else c for c in activity.data.contact_ids))
        save_activity(session, replace(activity, data=replace(activity.data, contact_ids=linked)))
    session.execute(
        sa.update(TimelineEntryRow)
        .where(TimelineEntryRow.tenant_id == tenant_id, TimelineEntryRow.contact_id == loser_id)
        .values(contact_id=winner_id)
    )
    session.execute(
        sa.update(ForgottenContactRow)
        .where(ForgottenContactRow.tenant_id == tenant_id, ForgottenContactRow.successor_id == loser_id)
        .values(successor_id=winner_id)
    )
    tombstone = session.get(ForgottenContactRow, (tenant_id, loser_id))
    if tombstone is None:
        session.add(
            ForgottenContactRow(tenant_id=tenant_id, contact_id=loser_id, successor_id=winner_id, forget_time=now)
        )
    else:
        tombstone.successor_id = winner_id


# --- timeline entries -------------------------------------------------------------------------


def add_entries(session: Session, tenant_id: str, entries: Sequence[Entry]) -> int:
    """File entries, with contacts that were deleted or merged away resolved; returns how many."""
    forgotten = _successors(session, tenant_id, {e.contact_id for e in entries if e.contact_id})
    rows = []
    for entry in entries:
        if entry.contact_id in forgotten:
            entry = replace(entry, contact_id=forgotten[entry.contact_id])
        if not entry.contact_id and not entry.account_id:
            continue
        rows.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "contact_id": entry.contact_id,
                "account_id": entry.account_id,
                "kind": entry.kind,
                "title": entry.title[:400],
                "summary": entry.summary,
                "occur_time": entry.occur_time,
                "source": entry.source,
                "source_id": entry.source_id,
                "attributes": dict(entry.attributes),
            }
        )
    if rows:
        session.execute(sa.insert(TimelineEntryRow), rows)
    return len(rows)


def _successors(session: Session, tenant_id: str, contact_ids: set[str]) -> dict[str, str]:
    if not contact_ids:
        return {}
    query = sa.select(ForgottenContactRow.contact_id, ForgottenContactRow.successor_id).where(
        ForgottenContactRow.tenant_id == tenant_id, ForgottenContactRow.contact_id.in_(contact_ids)
    )
    return {contact_id: successor for contact_id, successor in session.execute(query)}


def _delete_entries(session: Session, tenant_id: str, source: str, source_id: str) -> None:
    session.execute(
        sa.delete(TimelineEntryRow).where(
            TimelineEntryRow.tenant_id == tenant_id,
            TimelineEntryRow.source == source,
            TimelineEntryRow.source_id == source_id,
        )
    )


ENTRY_FIELDS = [
    Field("kind", TimelineEntryRow.kind, Kind.ENUM),
    Field("source", TimelineEntryRow.source, Kind.ENUM),
    Field("sourceId", TimelineEntryRow.source_id, Kind.ENUM),
    Field("occurTime", TimelineEntryRow.occur_time, Kind.TIMESTAMP, sortable=True),
]
NEWEST_FIRST = [Order(ENTRY_FIELDS[-1], descending=True)]


@dataclass(frozen=True)
class StoredEntry:
    id: str
    entry: Entry


def entry_page(
    session: Session,
    tenant_id: str,
    subject: tuple[str, str],
    filter: str,
    after: list[Any] | None,
    limit: int,
) -> list[tuple[StoredEntry, list[Any]]]:
    """Up to `limit` entries of one contact (("contact", id)) or account, newest first, after `after`."""
    kind, subject_id = subject
    column = TimelineEntryRow.contact_id if kind == "contact" else TimelineEntryRow.account_id
    query = sa.select(TimelineEntryRow).where(TimelineEntryRow.tenant_id == tenant_id, column == subject_id)
    condition = compile_filter(filter, ENTRY_FIELDS, _dialect(session))
    if condition is not None:
        query = query.where(condition)
    if after:
        if len(after) != 2:
            raise LookupError("position does not match the order")
        query = query.where(after_position(NEWEST_FIRST, TimelineEntryRow.id, after))
    rows = session.scalars(query.order_by(*order_clauses(NEWEST_FIRST, TimelineEntryRow.id)).limit(limit)).all()
    return [(StoredEntry(r.id, _entry(r)), [r.occur_time, r.id]) for r in rows]


def _entry(row: TimelineEntryRow) -> Entry:
    return Entry(
        kind=row.kind,
        title=row.title,
        summary=row.summary,
        occur_time=row.occur_time,
        source=row.source,
        source_id=row.source_id,
        contact_id=row.contact_id,
        account_id=row.account_id,
        attributes=dict(row.attributes),
    )


def contact_ids_with_emails(session: Session, tenant_id: str, addresses: Iterable[str]) -> list[str]:
    """The tenant's contacts with one of these addresses, primary or further (compared as contacts are deduplicated)."""
    keys = sorted({a.strip().lower() for a in addresses if a.strip()})
    if not keys:
        return []
    primary = sa.select(ContactRow.id).where(ContactRow.tenant_id == tenant_id, ContactRow.email_key.in_(keys))
    further = sa.select(AdditionalEmailRow.contact_id).where(
        AdditionalEmailRow.tenant_id == tenant_id, AdditionalEmailRow.email_key.in_(keys)
    )
    return sorted(set(session.scalars(primary)) | set(session.scalars(further)))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
