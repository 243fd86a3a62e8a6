"""Marketing tables and queries."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata, tenant_page, tenant_row
from crmkit.events.tables import add_messaging_tables
from services.marketing.domain import AudienceMember
from services.marketing.domain.consent import Subscription
from services.marketing.domain.segments import Engagement


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)


class AudienceMemberRow(Base):
    __tablename__ = "audience_members"
    # Replies and privacy requests find members by address, compared lower-cased.
    __table_args__ = (sa.Index("ix_audience_members_email", "tenant_id", sa.text("lower(email)")),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    given_name: Mapped[str] = mapped_column(sa.String(200))
    family_name: Mapped[str] = mapped_column(sa.String(200))
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(40))
    tags: Mapped[list[str]] = mapped_column(JSONType)
    source_update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    deleted: Mapped[bool] = mapped_column(sa.Boolean())
    phone: Mapped[str] = mapped_column(sa.String(40), server_default="")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, server_default="{}")


def _to_domain(row: AudienceMemberRow) -> AudienceMember:
    return AudienceMember(
        row.tenant_id,
        row.contact_id,
        row.email,
        row.given_name,
        row.family_name,
        row.lifecycle_stage,
        tuple(row.tags),
        row.source_update_time,
        row.deleted,
        row.phone,
        dict(row.custom_fields or {}),
    )


def get(session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False) -> AudienceMember | None:
    row = _row(session, tenant_id, contact_id, for_update)
    return None if row is None else _to_domain(row)


def put(session: Session, member: AudienceMember) -> None:
    row = _row(session, member.tenant_id, member.contact_id, for_update=False)
    if row is None:
        row = AudienceMemberRow(tenant_id=member.tenant_id, contact_id=member.contact_id)
        session.add(row)
    row.email, row.given_name, row.family_name = member.email, member.given_name, member.family_name
    row.lifecycle_stage, row.tags = member.lifecycle_stage, list(member.tags)
    row.source_update_time, row.deleted = member.source_update_time, member.deleted
    row.phone, row.custom_fields = member.phone, dict(member.custom_fields)


def page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[AudienceMember]:
    query = sa.select(AudienceMemberRow).where(
        AudienceMemberRow.tenant_id == tenant_id, AudienceMemberRow.deleted.is_(False)
    )
    if after:
        query = query.where(AudienceMemberRow.contact_id > after)
    rows = session.scalars(query.order_by(AudienceMemberRow.contact_id).limit(limit)).all()
    return [_to_domain(r) for r in rows]


def _row(session: Session, tenant_id: str, contact_id: str, for_update: bool) -> AudienceMemberRow | None:
    query = sa.select(AudienceMemberRow).where(
        AudienceMemberRow.tenant_id == tenant_id, AudienceMemberRow.contact_id == contact_id
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def members_of(session: Session, tenant_id: str, contact_ids: list[str]) -> list[AudienceMember]:
    rows = session.scalars(
        sa.select(AudienceMemberRow).where(
            AudienceMemberRow.tenant_id == tenant_id, AudienceMemberRow.contact_id.in_(contact_ids)
        )
    ).all()
    return [_to_domain(r) for r in rows]


def all_members(session: Session, tenant_id: str, after: str | None, limit: int) -> list[AudienceMember]:
    """Live members in contact id order, a chunk at a time (segment rebuilds)."""
    return page(session, tenant_id, after, limit)


# --- consent ---------------------------------------------------------------------------------


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    legal_basis: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(200))
    explicit_opt_in: Mapped[bool] = mapped_column(sa.Boolean())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SubscriptionHistoryRow(Base):
    __tablename__ = "subscription_history"
    __table_args__ = (sa.Index("ix_subscription_history_contact", "tenant_id", "contact_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    legal_basis: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(200))
    explicit_opt_in: Mapped[bool] = mapped_column(sa.Boolean())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SuppressionRow(Base):
    __tablename__ = "suppressions"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(32))
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def _subscription(row: SubscriptionRow | SubscriptionHistoryRow) -> Subscription:
    return Subscription(
        row.tenant_id,
        row.contact_id,
        row.channel,
        row.status,
        row.legal_basis,
        row.source,
        row.update_time,
        row.explicit_opt_in,
    )


def subscriptions(
    session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False
) -> dict[str, Subscription]:
    query = sa.select(SubscriptionRow).where(
        SubscriptionRow.tenant_id == tenant_id, SubscriptionRow.contact_id == contact_id
    )
    if for_update:
        query = query.with_for_update()
    return {row.channel: _subscription(row) for row in session.scalars(query.order_by(SubscriptionRow.channel))}


def put_subscription(session: Session, subscription: Subscription, history_id: str) -> None:
    """The current decision replaced, and appended to the history (never rewritten)."""
    values = {
        "status": subscription.status,
        "legal_basis": subscription.legal_basis,
        "source": subscription.source,
        "explicit_opt_in": subscription.explicit_opt_in,
        "update_time": subscription.update_time,
    }
    key = (subscription.tenant_id, subscription.contact_id, subscription.channel)
    row = session.get(SubscriptionRow, key)
    if row is None:
        session.add(
            SubscriptionRow(
                tenant_id=key[0],
                contact_id=key[1],
                channel=key[2],
                **values,  # type: ignore[arg-type]
            )
        )
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.add(
        SubscriptionHistoryRow(
            id=history_id,
            tenant_id=key[0],
            contact_id=key[1],
            channel=key[2],
            **values,  # type: ignore[arg-type]
        )
    )


def subscription_history(session: Session, tenant_id: str, contact_id: str, limit: int = 500) -> list[Subscription]:
    rows = session.scalars(
        sa.select(SubscriptionHistoryRow)
        .where(SubscriptionHistoryRow.tenant_id == tenant_id, SubscriptionHistoryRow.contact_id == contact_id)
        .order_by(SubscriptionHistoryRow.id)
        .limit(limit)
    )
    return [_subscription(r) for r in rows]


@dataclass(frozen=True)
class Suppressed:
    email: str
    reason: str
    contact_id: str
    create_time: dt.datetime


def suppress(session: Session, tenant_id: str, entry: Suppressed) -> bool:
    """Adds the address to the tenant's suppression list; False when it was there already."""
    if session.get(SuppressionRow, (tenant_id, entry.email)) is not None:
        return False
    session.add(
        SuppressionRow(
            tenant_id=tenant_id,
            email=entry.email,
            reason=entry.reason,
            contact_id=entry.contact_id,
            create_time=entry.create_time,
        )
    )
    session.flush()
    return True


ERASED_ADDRESS = "sha256:"


def erased_address(tenant_id: str, email: str) -> str:
    """What an erased person's suppressed address is kept as (docs/adr/0084): a digest that still
    matches the address when it is sent to again, and shows nobody what it was."""
    return ERASED_ADDRESS + hashlib.sha256(f"{tenant_id}\x00{email}".encode()).hexdigest()


def suppressed_among(session: Session, tenant_id: str, emails: list[str]) -> set[str]:
    """Which of these normalised addresses the tenant suppresses (a send batch asks once), kept
    as they are or, for an erased person, as a digest."""
    if not emails:
        return set()
    digests = {erased_address(tenant_id, e): e for e in emails}
    found = session.scalars(
        sa.select(SuppressionRow.email).where(
            SuppressionRow.tenant_id == tenant_id, SuppressionRow.email.in_([*emails, *digests])
        )
    )
    return {digests.get(key, key) for key in found}


def _suppressions_of(contact_id: str, emails: Sequence[str]) -> sa.ColumnElement[bool]:
    who = SuppressionRow.contact_id == contact_id
    return sa.or_(who, SuppressionRow.email.in_(list(emails))) if emails else who


def suppressions_of(session: Session, tenant_id: str, contact_id: str, emails: Sequence[str]) -> list[Suppressed]:
    """The entries recorded for the contact or holding one of its (normalised) addresses."""
    query = sa.select(SuppressionRow).where(SuppressionRow.tenant_id == tenant_id, _suppressions_of(contact_id, emails))
    rows = session.scalars(query.order_by(SuppressionRow.email))
    return [Suppressed(r.email, r.reason, r.contact_id, r.create_time) for r in rows]


def erase_suppressions(session: Session, tenant_id: str, contact_id: str, emails: Sequence[str]) -> int:
    """The person's suppressed addresses (by address, or recorded for the contact) are kept only as
    digests with no contact id, so they stay suppressed without naming anyone; how many."""
    query = sa.select(SuppressionRow).where(SuppressionRow.tenant_id == tenant_id, _suppressions_of(contact_id, emails))
    rows = list(session.scalars(query.with_for_update()))
    for row in rows:
        if row.email.startswith(ERASED_ADDRESS):
            row.contact_id = ""
            continue
        digest = erased_address(tenant_id, row.email)
        session.delete(row)
        session.flush()
        if session.get(SuppressionRow, (tenant_id, digest)) is None:
            session.add(
                SuppressionRow(
                    tenant_id=tenant_id, email=digest, reason=row.reason, contact_id="", create_time=row.create_time
                )
            )
    session.flush()
    return len(rows)


def suppressions_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Suppressed]:
    query = sa.select(SuppressionRow).where(SuppressionRow.tenant_id == tenant_id)
    if after:
        query = query.where(SuppressionRow.email > after)
    rows = session.scalars(query.order_by(SuppressionRow.email).limit(limit))
    return [Suppressed(r.email, r.reason, r.contact_id, r.create_time) for r in rows]


# --- engagement log --------------------------------------------------------------------------


class EngagementRow(Base):
    __tablename__ = "engagements"
    __table_args__ = (sa.Index("ix_engagements_contact", "tenant_id", "contact_id", "occur_time"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    kind: Mapped[str] = mapped_column(sa.String(32))
    campaign_id: Mapped[str] = mapped_column(sa.String(64))
    message_id: Mapped[str] = mapped_column(sa.String(64))
    occur_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def log_engagement(
    session: Session, row_id: str, tenant_id: str, contact_id: str, message_id: str, engagement: Engagement
) -> None:
    session.add(
        EngagementRow(
            id=row_id,
            tenant_id=tenant_id,
            contact_id=contact_id,
            kind=engagement.kind,
            campaign_id=engagement.campaign_id,
            message_id=message_id,
            occur_time=engagement.occur_time,
        )
    )


def engagements(session: Session, tenant_id: str, contact_id: str, since: dt.datetime) -> list[Engagement]:
    rows = session.scalars(
        sa.select(EngagementRow).where(
            EngagementRow.tenant_id == tenant_id,
            EngagementRow.contact_id == contact_id,
            EngagementRow.occur_time >= since,
        )
    )
    return [Engagement(r.kind, r.campaign_id, r.occur_time, r.message_id) for r in rows]


# --- segments --------------------------------------------------------------------------------


class SegmentRow(Base):
    __tablename__ = "segments"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SegmentMemberRow(Base):
    __tablename__ = "segment_members"
    __table_args__ = (sa.Index("ix_segment_members_contact", "tenant_id", "contact_id"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    segment_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)


def get_segment(session: Session, tenant_id: str, segment_id: str, *, for_update: bool = False) -> SegmentRow | None:
    return tenant_row(session, SegmentRow, tenant_id, segment_id, for_update=for_update)


def segments_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[SegmentRow]:
    return tenant_page(session, SegmentRow, tenant_id, after, limit)


def dynamic_segments(session: Session, tenant_id: str) -> list[SegmentRow]:
    return list(
        session.scalars(
            sa.select(SegmentRow)
            .where(SegmentRow.tenant_id == tenant_id, SegmentRow.kind == "DYNAMIC")
            .order_by(SegmentRow.id)
        )
    )


def member_counts(session: Session, tenant_id: str, segment_ids: list[str]) -> dict[str, int]:
    if not segment_ids:
        return {}
    rows = session.execute(
        sa.select(SegmentMemberRow.segment_id, sa.func.count())
        .where(SegmentMemberRow.tenant_id == tenant_id, SegmentMemberRow.segment_id.in_(segment_ids))
        .group_by(SegmentMemberRow.segment_id)
    )
    return {segment_id: int(count) for segment_id, count in rows}


def segment_ids_of(session: Session, tenant_id: str, contact_id: str) -> set[str]:
    return set(
        session.scalars(
            sa.select(SegmentMemberRow.segment_id).where(
                SegmentMemberRow.tenant_id == tenant_id, SegmentMemberRow.contact_id == contact_id
            )
        )
    )


def add_members(session: Session, tenant_id: str, segment_id: str, contact_ids: list[str]) -> list[str]:
    """Adds the contacts not in the segment yet; returns those (the segment's entries)."""
    present = set(
        session.scalars(
            sa.select(SegmentMemberRow.contact_id).where(
                SegmentMemberRow.tenant_id == tenant_id,
                SegmentMemberRow.segment_id == segment_id,
                SegmentMemberRow.contact_id.in_(contact_ids),
            )
        )
    )
    new = [c for c in dict.fromkeys(contact_ids) if c not in present]
    if new:
        session.execute(
            sa.insert(SegmentMemberRow),
            [{"tenant_id": tenant_id, "segment_id": segment_id, "contact_id": c} for c in new],
        )
    return new


def remove_members(session: Session, tenant_id: str, segment_id: str, contact_ids: list[str] | None) -> None:
    """These members out of the segment (None: all of them)."""
    query = sa.delete(SegmentMemberRow).where(
        SegmentMemberRow.tenant_id == tenant_id, SegmentMemberRow.segment_id == segment_id
    )
    if contact_ids is not None:
        query = query.where(SegmentMemberRow.contact_id.in_(contact_ids))
    session.execute(query)


def segment_member_ids(session: Session, tenant_id: str, segment_id: str) -> set[str]:
    return set(
        session.scalars(
            sa.select(SegmentMemberRow.contact_id).where(
                SegmentMemberRow.tenant_id == tenant_id, SegmentMemberRow.segment_id == segment_id
            )
        )
    )


def remove_from_all(session: Session, tenant_id: str, contact_id: str) -> None:
    session.execute(
        sa.delete(SegmentMemberRow).where(
            SegmentMemberRow.tenant_id == tenant_id, SegmentMemberRow.contact_id == contact_id
        )
    )


def segment_members_page(
    session: Session, tenant_id: str, segment_id: str, after: str | None, limit: int
) -> list[AudienceMember]:
    query = (
        sa.select(AudienceMemberRow)
        .join(
            SegmentMemberRow,
            sa.and_(
                SegmentMemberRow.tenant_id == AudienceMemberRow.tenant_id,
                SegmentMemberRow.contact_id == AudienceMemberRow.contact_id,
            ),
        )
        .where(SegmentMemberRow.tenant_id == tenant_id, SegmentMemberRow.segment_id == segment_id)
    )
    if after:
        query = query.where(AudienceMemberRow.contact_id > after)
    return [_to_domain(r) for r in session.scalars(query.order_by(AudienceMemberRow.contact_id).limit(limit))]


# --- templates -------------------------------------------------------------------------------


class TemplateRow(Base):
    __tablename__ = "templates"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.Text())
    html_body: Mapped[str] = mapped_column(sa.Text())
    text_body: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def get_template(session: Session, tenant_id: str, template_id: str) -> TemplateRow | None:
    return session.get(TemplateRow, (tenant_id, template_id))


def templates_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[TemplateRow]:
    return tenant_page(session, TemplateRow, tenant_id, after, limit)


def engagements_for(
    session: Session, tenant_id: str, contact_ids: list[str], since: dt.datetime
) -> dict[str, list[Engagement]]:
    """The engagement log of many contacts at once (a segment rebuild reads a chunk per query)."""
    found: dict[str, list[Engagement]] = {c: [] for c in contact_ids}
    if not contact_ids:
        return found
    rows = session.scalars(
        sa.select(EngagementRow).where(
            EngagementRow.tenant_id == tenant_id,
            EngagementRow.contact_id.in_(contact_ids),
            EngagementRow.occur_time >= since,
        )
    )
    for r in rows:
        found[r.contact_id].append(Engagement(r.kind, r.campaign_id, r.occur_time, r.message_id))
    return found


# --- background work --------------------------------------------------------------------------


class WatermarkRow(Base):
    """How far a background job got (one row per job, created by the migration)."""

    __tablename__ = "watermarks"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def lock_watermark(session: Session, name: str) -> WatermarkRow | None:
    """The job's row, locked; None while another replica holds it (it is doing the work)."""
    query = sa.select(WatermarkRow).where(WatermarkRow.name == name).with_for_update(skip_locked=True)
    return session.scalars(query).first()


def dynamic_rules_by_tenant(session: Session) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for tenant_id, rules in session.execute(
        sa.select(SegmentRow.tenant_id, SegmentRow.rules).where(SegmentRow.kind == "DYNAMIC")
    ):
        found.setdefault(tenant_id, []).append(rules)
    return found


def contacts_engaged_between(session: Session, tenant_id: str, start: dt.datetime, end: dt.datetime) -> list[str]:
    """Contacts with an engagement in (start, end]."""
    return list(
        session.scalars(
            sa.select(EngagementRow.contact_id)
            .where(
                EngagementRow.tenant_id == tenant_id,
                EngagementRow.occur_time > start,
                EngagementRow.occur_time <= end,
            )
            .distinct()
        )
    )


# --- sequences -------------------------------------------------------------------------------


class SequenceRow(Base):
    __tablename__ = "sequences"
    __table_args__ = (sa.Index("ix_sequences_segment", "tenant_id", "segment_id"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    segment_id: Mapped[str] = mapped_column(sa.String(26))
    state: Mapped[str] = mapped_column(sa.String(16))
    # The steps as domain/sequences.steps_to_json stores them.
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class EnrolmentRow(Base):
    """One contact going through one sequence: `next_step` (index) is due at `due_time`."""

    __tablename__ = "sequence_enrolments"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "sequence_id", "contact_id", name="uq_sequence_enrolments_contact"),
        sa.Index("ix_sequence_enrolments_due", "status", "due_time"),
        sa.Index("ix_sequence_enrolments_of_contact", "tenant_id", "contact_id", "status"),
        sa.Index("ix_sequence_enrolments_of_sequence", "tenant_id", "sequence_id", "id"),
    )

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    sequence_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    source: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    next_step: Mapped[int] = mapped_column(sa.Integer())
    due_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    exit_reason: Mapped[str] = mapped_column(sa.String(32))
    exit_detail: Mapped[str] = mapped_column(sa.String(200))
    enrol_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StepRunRow(Base):
    """A step run for an enrolment: the primary key is what makes a step run at most once, on
    PostgreSQL and SQLite alike (a second runner's insert fails and its transaction rolls back)."""

    __tablename__ = "sequence_step_runs"
    __table_args__ = (sa.Index("ix_sequence_step_runs_mail", "tenant_id", "mail_message_id"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    enrolment_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    step: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    # The per-recipient message record, and the Message-ID header it went out with (replies name it).
    message_id: Mapped[str] = mapped_column(sa.String(64))
    mail_message_id: Mapped[str] = mapped_column(sa.String(255))
    detail: Mapped[str] = mapped_column(sa.String(200))
    run_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def get_sequence(session: Session, tenant_id: str, sequence_id: str, *, for_update: bool = False) -> SequenceRow | None:
    return tenant_row(session, SequenceRow, tenant_id, sequence_id, for_update=for_update)


def sequences_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[SequenceRow]:
    return tenant_page(session, SequenceRow, tenant_id, after, limit)


def active_sequences_of_segment(session: Session, tenant_id: str, segment_id: str) -> list[SequenceRow]:
    return list(
        session.scalars(
            sa.select(SequenceRow)
            .where(
                SequenceRow.tenant_id == tenant_id,
                SequenceRow.segment_id == segment_id,
                SequenceRow.state == "ACTIVE",
            )
            .order_by(SequenceRow.id)
        )
    )


def active_enrolment_counts(session: Session, tenant_id: str, sequence_ids: list[str]) -> dict[str, int]:
    if not sequence_ids:
        return {}
    rows = session.execute(
        sa.select(EnrolmentRow.sequence_id, sa.func.count())
        .where(
            EnrolmentRow.tenant_id == tenant_id,
            EnrolmentRow.sequence_id.in_(sequence_ids),
            EnrolmentRow.status == "ACTIVE",
        )
        .group_by(EnrolmentRow.sequence_id)
    )
    return {sequence_id: int(count) for sequence_id, count in rows}


def enrolled_among(session: Session, tenant_id: str, sequence_id: str, contact_ids: list[str]) -> set[str]:
    """Which of these contacts were ever enrolled in the sequence."""
    if not contact_ids:
        return set()
    return set(
        session.scalars(
            sa.select(EnrolmentRow.contact_id).where(
                EnrolmentRow.tenant_id == tenant_id,
                EnrolmentRow.sequence_id == sequence_id,
                EnrolmentRow.contact_id.in_(contact_ids),
            )
        )
    )


def get_enrolment(
    session: Session, tenant_id: str, sequence_id: str, enrolment_id: str, *, for_update: bool = False
) -> EnrolmentRow | None:
    query = sa.select(EnrolmentRow).where(
        EnrolmentRow.tenant_id == tenant_id, EnrolmentRow.sequence_id == sequence_id, EnrolmentRow.id == enrolment_id
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def enrolments_page(
    session: Session, tenant_id: str, sequence_id: str, status: str, after: str | None, limit: int
) -> list[EnrolmentRow]:
    query = sa.select(EnrolmentRow).where(EnrolmentRow.tenant_id == tenant_id, EnrolmentRow.sequence_id == sequence_id)
    if status:
        query = query.where(EnrolmentRow.status == status)
    if after:
        query = query.where(EnrolmentRow.id > after)
    return list(session.scalars(query.order_by(EnrolmentRow.id).limit(limit)))


def running_enrolments(
    session: Session,
    tenant_id: str,
    *,
    contact_ids: list[str] | None = None,
    sequence_id: str | None = None,
    enrolment_ids: list[str] | None = None,
) -> list[EnrolmentRow]:
    """Active enrolments of these contacts, of this sequence or with these ids, locked for the
    caller's transaction."""
    query = sa.select(EnrolmentRow).where(EnrolmentRow.tenant_id == tenant_id, EnrolmentRow.status == "ACTIVE")
    if enrolment_ids is not None:
        query = query.where(EnrolmentRow.id.in_(enrolment_ids))
    if contact_ids is not None:
        query = query.where(EnrolmentRow.contact_id.in_(contact_ids))
    if sequence_id is not None:
        query = query.where(EnrolmentRow.sequence_id == sequence_id)
    return list(session.scalars(query.order_by(EnrolmentRow.id).with_for_update()))


def enrolments_of_contacts(session: Session, tenant_id: str, contact_ids: list[str]) -> list[EnrolmentRow]:
    if not contact_ids:
        return []
    query = sa.select(EnrolmentRow).where(EnrolmentRow.tenant_id == tenant_id, EnrolmentRow.contact_id.in_(contact_ids))
    return list(session.scalars(query.order_by(EnrolmentRow.id)))


def due_enrolments(session: Session, now: dt.datetime, limit: int) -> list[tuple[str, str]]:
    """(tenant_id, enrolment_id) of active enrolments whose step is due, in active sequences, across
    tenants (the scheduler is the one reader that works for every tenant)."""
    query = (
        sa.select(EnrolmentRow.tenant_id, EnrolmentRow.id)
        .join(
            SequenceRow,
            sa.and_(SequenceRow.tenant_id == EnrolmentRow.tenant_id, SequenceRow.id == EnrolmentRow.sequence_id),
        )
        .where(EnrolmentRow.status == "ACTIVE", EnrolmentRow.due_time <= now, SequenceRow.state == "ACTIVE")
        .order_by(EnrolmentRow.due_time, EnrolmentRow.id)
        .limit(limit)
    )
    return [(tenant_id, enrolment_id) for tenant_id, enrolment_id in session.execute(query)]


def lock_enrolment_if_free(session: Session, tenant_id: str, enrolment_id: str) -> EnrolmentRow | None:
    """The enrolment locked for this transaction, or None when another transaction holds it."""
    query = (
        sa.select(EnrolmentRow)
        .where(EnrolmentRow.tenant_id == tenant_id, EnrolmentRow.id == enrolment_id)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(query).first()


def lock_enrolment(session: Session, tenant_id: str, enrolment_id: str) -> EnrolmentRow | None:
    query = (
        sa.select(EnrolmentRow)
        .where(EnrolmentRow.tenant_id == tenant_id, EnrolmentRow.id == enrolment_id)
        .with_for_update()
    )
    return session.scalars(query).first()


def step_runs(session: Session, tenant_id: str, enrolment_ids: list[str]) -> dict[str, list[StepRunRow]]:
    found: dict[str, list[StepRunRow]] = {e: [] for e in enrolment_ids}
    if not enrolment_ids:
        return found
    rows = session.scalars(
        sa.select(StepRunRow)
        .where(StepRunRow.tenant_id == tenant_id, StepRunRow.enrolment_id.in_(enrolment_ids))
        .order_by(StepRunRow.enrolment_id, StepRunRow.run_time, StepRunRow.step)
    )
    for row in rows:
        found[row.enrolment_id].append(row)
    return found


def add_step_run(session: Session, row: StepRunRow) -> None:
    session.add(row)
    session.flush()  # the primary key refuses a second run of the same step here, before any commit


def enrolments_of_mail(session: Session, tenant_id: str, mail_message_ids: list[str]) -> list[str]:
    """Ids of the enrolments that sent a message with one of these Message-IDs (a reply names them)."""
    if not mail_message_ids:
        return []
    return list(
        session.scalars(
            sa.select(StepRunRow.enrolment_id)
            .where(StepRunRow.tenant_id == tenant_id, StepRunRow.mail_message_id.in_(mail_message_ids))
            .distinct()
        )
    )


def enrolments_mailed_to(session: Session, tenant_id: str, contact_ids: list[str]) -> list[str]:
    """Ids of the active enrolments of these contacts that sent them at least one email."""
    if not contact_ids:
        return []
    return list(
        session.scalars(
            sa.select(EnrolmentRow.id)
            .join(
                StepRunRow,
                sa.and_(StepRunRow.tenant_id == EnrolmentRow.tenant_id, StepRunRow.enrolment_id == EnrolmentRow.id),
            )
            .where(
                EnrolmentRow.tenant_id == tenant_id,
                EnrolmentRow.contact_id.in_(contact_ids),
                EnrolmentRow.status == "ACTIVE",
                StepRunRow.outcome == "SENT",
            )
            .distinct()
        )
    )


def contacts_with_email(session: Session, tenant_id: str, normalised_email: str) -> list[str]:
    """Live audience members whose address is this one (trimmed, lower-cased)."""
    return list(
        session.scalars(
            sa.select(AudienceMemberRow.contact_id).where(
                AudienceMemberRow.tenant_id == tenant_id,
                sa.func.lower(AudienceMemberRow.email) == normalised_email,
                AudienceMemberRow.deleted.is_(False),
            )
        )
    )


# --- campaigns, per-recipient messages, attributions (docs/adr/0052..0054) --------------------


class CampaignRow(Base):
    __tablename__ = "campaigns"
    __table_args__ = (sa.Index("ix_campaigns_status_schedule", "status", "schedule_time"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    segment_id: Mapped[str] = mapped_column(sa.String(26))
    template_id: Mapped[str] = mapped_column(sa.String(26))
    from_address: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(998))
    connection_id: Mapped[str] = mapped_column(sa.String(64))
    send_rate_per_minute: Mapped[int] = mapped_column(sa.Integer())
    cost_currency: Mapped[str] = mapped_column(sa.String(3))
    # The cost in billionths of the currency unit (google.type.Money's units and nanos as one integer).
    cost_nanos: Mapped[int | None] = mapped_column(sa.BigInteger(), nullable=True)
    schedule_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finish_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The sender working on it holds it until then (one replica at a time, no long transaction).
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MessageRow(Base):
    """One record per recipient and message: a campaign's recipient, or a sequence step's."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "origin", "ref_id", "contact_id", name="uq_messages_recipient"),
        sa.Index("ix_messages_campaign_status", "tenant_id", "campaign_id", "status", "id"),
        sa.Index("ix_messages_contact", "tenant_id", "contact_id"),
        sa.Index("ix_messages_rfc_message_id", "tenant_id", "rfc_message_id"),
    )

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    origin: Mapped[str] = mapped_column(sa.String(16))
    ref_id: Mapped[str] = mapped_column(sa.String(64))
    campaign_id: Mapped[str] = mapped_column(sa.String(26))
    sequence_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    email: Mapped[str] = mapped_column(sa.String(320))
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(64))
    render_error: Mapped[str] = mapped_column(sa.Text())
    # What integrations or the mail server answered when the send FAILED.
    error: Mapped[str] = mapped_column(sa.Text())
    subject: Mapped[str] = mapped_column(sa.String(998))
    # The http(s) links of the rendered message: the only places its click redirect may go.
    links: Mapped[list[str]] = mapped_column(JSONType)
    delivery_id: Mapped[str] = mapped_column(sa.String(64))
    rfc_message_id: Mapped[str] = mapped_column(sa.String(300))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_open_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    open_count: Mapped[int] = mapped_column(sa.Integer())
    first_click_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clicked_urls: Mapped[list[str]] = mapped_column(JSONType)
    bounce_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The recorded bounce was permanent (a hard bounce); a soft one may later turn hard.
    bounce_hard: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    # The recipient reported the message as spam (a feedback-loop report, docs/adr/0067).
    complaint_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unsubscribe_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AttributionRow(Base):
    """A won deal's revenue share credited to one campaign (docs/adr/0054)."""

    __tablename__ = "attributions"
    __table_args__ = (sa.Index("ix_attributions_campaign", "tenant_id", "campaign_id"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    opportunity_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    currency: Mapped[str] = mapped_column(sa.String(3))
    revenue_nanos: Mapped[int] = mapped_column(sa.BigInteger())
    won_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class MarketingSecretRow(Base):
    """Per-deployment secrets generated at migration time (the tracking link signing key)."""

    __tablename__ = "marketing_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def secret(session: Session, name: str) -> str:
    row = session.get(MarketingSecretRow, name)
    return row.value if row is not None else ""


def message_for(
    session: Session, tenant_id: str, origin: str, ref_id: str, contact_id: str, *, for_update: bool = False
) -> MessageRow | None:
    query = sa.select(MessageRow).where(
        MessageRow.tenant_id == tenant_id,
        MessageRow.origin == origin,
        MessageRow.ref_id == ref_id,
        MessageRow.contact_id == contact_id,
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def get_message(session: Session, tenant_id: str, message_id: str, *, for_update: bool = False) -> MessageRow | None:
    return tenant_row(session, MessageRow, tenant_id, message_id, for_update=for_update)


def message_by_rfc_id(session: Session, tenant_id: str, rfc_message_id: str) -> MessageRow | None:
    """The message we sent with this Message-ID (locked: a report updates it)."""
    if not rfc_message_id:
        return None
    query = sa.select(MessageRow).where(MessageRow.tenant_id == tenant_id, MessageRow.rfc_message_id == rfc_message_id)
    return session.scalars(query.order_by(MessageRow.id).limit(1).with_for_update()).first()


def get_campaign(session: Session, tenant_id: str, campaign_id: str, *, for_update: bool = False) -> CampaignRow | None:
    return tenant_row(session, CampaignRow, tenant_id, campaign_id, for_update=for_update)


def mark_bounced(session: Session, tenant_id: str, message_id: str, when: dt.datetime) -> None:
    """The message bounced (first bounce kept); a message id we never sent changes nothing."""
    session.execute(
        sa.update(MessageRow)
        .where(MessageRow.tenant_id == tenant_id, MessageRow.id == message_id, MessageRow.bounce_time.is_(None))
        .values(bounce_time=when)
    )
