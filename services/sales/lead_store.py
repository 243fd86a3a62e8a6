"""Lead tables and queries (leads, their history and conversions, web forms, assignment and
scoring rules): the only module that touches them. The tables live on the sales Base."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime
from crmkit.filtering import Field, Kind, Order, after_position, compile_filter, order_clauses, parse_order_by
from services.sales.domain.assignment import AssignmentRule, Condition
from services.sales.domain.leads import OPEN_STATUSES, Conversion, HistoryEntry, Lead, LeadFields
from services.sales.domain.scoring import Engagement, ScoringRule, ScoringSettings
from services.sales.store import Base


class LeadRow(Base):
    __tablename__ = "leads"
    __table_args__ = (
        sa.Index("ix_leads_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_leads_tenant_id_email_key", "tenant_id", "email_key"),
        sa.Index("ix_leads_tenant_id_owner_id_status", "tenant_id", "owner_id", "status"),
        sa.Index("ix_leads_engagement_time", "engagement_time"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    given_name: Mapped[str] = mapped_column(sa.String(200))
    family_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320))
    # Lower-cased email: engagement events and conversion match leads by it.
    email_key: Mapped[str] = mapped_column(sa.String(320))
    phone: Mapped[str] = mapped_column(sa.String(32))
    company: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(64))
    country: Mapped[str] = mapped_column(sa.String(2))
    industry: Mapped[str] = mapped_column(sa.String(200))
    company_size: Mapped[str] = mapped_column(sa.String(32))
    custom_attributes: Mapped[dict[str, object]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(16))
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    # Scoring state (domain/scoring.py): attribute points, decayed engagement and its time, the
    # score as last computed, and which side of the threshold it was last reported on.
    attribute_points: Mapped[int] = mapped_column(sa.Integer())
    engagement_value: Mapped[float] = mapped_column(sa.Float())
    engagement_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    score: Mapped[int] = mapped_column(sa.Integer())
    above_threshold: Mapped[bool] = mapped_column(sa.Boolean())
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    opportunity_id: Mapped[str] = mapped_column(sa.String(64))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class LeadHistoryRow(Base):
    __tablename__ = "lead_history"
    __table_args__ = (sa.Index("ix_lead_history_tenant_id_lead_id_id", "tenant_id", "lead_id", "id"),)

    # A sequence, not a ULID: entries written in the same millisecond keep their order.
    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    lead_id: Mapped[str] = mapped_column(sa.String(26))
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(sa.String(16))
    message: Mapped[str] = mapped_column(sa.Text())
    actor: Mapped[str] = mapped_column(sa.String(200))
    score_delta: Mapped[int] = mapped_column(sa.Integer())
    score: Mapped[int] = mapped_column(sa.Integer())


class LeadConversionRow(Base):
    """A conversion in progress or done: the ids each finished step produced (docs/adr/0043)."""

    __tablename__ = "lead_conversions"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    lead_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    # "started", then "completed" once the lead is marked converted.
    state: Mapped[str] = mapped_column(sa.String(16))
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    contact_reused: Mapped[bool] = mapped_column(sa.Boolean())
    account_id: Mapped[str] = mapped_column(sa.String(64))
    account_reused: Mapped[bool] = mapped_column(sa.Boolean())
    account_linked: Mapped[bool] = mapped_column(sa.Boolean())
    opportunity_id: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class WebFormRow(Base):
    __tablename__ = "web_forms"
    __table_args__ = (
        sa.Index("ix_web_forms_tenant_id_id", "tenant_id", "id"),
        sa.UniqueConstraint("public_key", name="uq_web_forms_public_key"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    public_key: Mapped[str] = mapped_column(sa.String(64))
    lead_source: Mapped[str] = mapped_column(sa.String(64))
    honeypot_field: Mapped[str] = mapped_column(sa.String(64))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AssignmentRuleRow(Base):
    __tablename__ = "assignment_rules"
    __table_args__ = (sa.Index("ix_assignment_rules_tenant_id_position", "tenant_id", "position"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(sa.Integer())
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    territory: Mapped[str] = mapped_column(sa.String(200))
    owner_ids: Mapped[list[str]] = mapped_column(JSONType)
    capacity_per_owner: Mapped[int] = mapped_column(sa.Integer())
    # The round-robin cursor: changed only under this row's lock.
    cursor: Mapped[int] = mapped_column(sa.Integer())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ScoringRuleRow(Base):
    __tablename__ = "scoring_rules"
    __table_args__ = (sa.Index("ix_scoring_rules_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    attribute: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[str] = mapped_column(sa.String(200))
    points: Mapped[int] = mapped_column(sa.Integer())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ScoringSettingsRow(Base):
    __tablename__ = "scoring_settings"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    email_opened_points: Mapped[int] = mapped_column(sa.Integer())
    email_clicked_points: Mapped[int] = mapped_column(sa.Integer())
    form_submitted_points: Mapped[int] = mapped_column(sa.Integer())
    half_life_days: Mapped[int] = mapped_column(sa.Integer())
    threshold: Mapped[int] = mapped_column(sa.Integer())


# ---- leads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreState:
    attribute_points: int
    engagement: Engagement
    score: int
    above_threshold: bool


def _lead(row: LeadRow) -> Lead:
    data = LeadFields(
        given_name=row.given_name,
        family_name=row.family_name,
        email=row.email,
        phone=row.phone,
        company=row.company,
        title=row.title,
        source=row.source,
        country=row.country,
        industry=row.industry,
        company_size=row.company_size,
        custom_attributes=dict(row.custom_attributes),
        status=row.status,
        owner_id=row.owner_id,
    )
    conversion = Conversion(row.contact_id, row.account_id, row.opportunity_id)
    return Lead(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag, conversion)


def _score_state(row: LeadRow) -> ScoreState:
    engagement = Engagement(row.engagement_value, row.engagement_time)
    return ScoreState(row.attribute_points, engagement, row.score, row.above_threshold)


def _write(row: LeadRow, lead: Lead) -> None:
    data = lead.data
    row.given_name, row.family_name, row.email, row.phone = data.given_name, data.family_name, data.email, data.phone
    row.email_key = data.email.lower()
    row.company, row.title, row.source, row.country = data.company, data.title, data.source, data.country
    row.industry, row.company_size = data.industry, data.company_size
    row.custom_attributes = dict(data.custom_attributes)
    row.status, row.owner_id = data.status, data.owner_id
    row.contact_id = lead.converted.contact_id
    row.account_id = lead.converted.account_id
    row.opportunity_id = lead.converted.opportunity_id
    row.update_time, row.etag = lead.update_time, lead.etag


def _write_score(row: LeadRow, state: ScoreState) -> None:
    row.attribute_points = state.attribute_points
    row.engagement_value = state.engagement.value
    row.engagement_time = state.engagement.as_of
    row.score = state.score
    row.above_threshold = state.above_threshold


def add_lead(session: Session, lead: Lead, state: ScoreState) -> None:
    row = LeadRow(id=lead.id, tenant_id=lead.tenant_id, create_time=lead.create_time)
    _write(row, lead)
    _write_score(row, state)
    session.add(row)
    session.flush()


def get_lead(
    session: Session, tenant_id: str, lead_id: str, *, for_update: bool = False
) -> tuple[Lead, ScoreState] | None:
    query = sa.select(LeadRow).where(LeadRow.tenant_id == tenant_id, LeadRow.id == lead_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    return None if row is None else (_lead(row), _score_state(row))


def save_lead(session: Session, lead: Lead, state: ScoreState | None = None) -> None:
    row = session.scalars(sa.select(LeadRow).where(LeadRow.tenant_id == lead.tenant_id, LeadRow.id == lead.id)).one()
    _write(row, lead)
    if state is not None:
        _write_score(row, state)
    session.flush()


def save_score(session: Session, tenant_id: str, lead_id: str, state: ScoreState) -> None:
    row = session.scalars(sa.select(LeadRow).where(LeadRow.tenant_id == tenant_id, LeadRow.id == lead_id)).one()
    _write_score(row, state)
    session.flush()


def delete_lead(session: Session, tenant_id: str, lead_id: str) -> None:
    for table in (LeadHistoryRow, LeadConversionRow):
        session.execute(sa.delete(table).where(table.tenant_id == tenant_id, table.lead_id == lead_id))
    session.execute(sa.delete(LeadRow).where(LeadRow.tenant_id == tenant_id, LeadRow.id == lead_id))


def leads_with_email(session: Session, tenant_id: str, email: str) -> list[tuple[Lead, ScoreState]]:
    """The tenant's unconverted leads with this email (any case), locked, in id order."""
    query = (
        sa.select(LeadRow)
        .where(
            LeadRow.tenant_id == tenant_id, LeadRow.email_key == email.strip().lower(), LeadRow.status != "converted"
        )
        .order_by(LeadRow.id)
        .with_for_update()
    )
    return [(_lead(r), _score_state(r)) for r in session.scalars(query)]


def engaged_leads(session: Session, after: tuple[str, str], limit: int) -> list[tuple[str, str]]:
    """(tenant, id) of unconverted leads with engagement points or above their threshold, after a key."""
    query = (
        sa.select(LeadRow.tenant_id, LeadRow.id)
        .where(
            LeadRow.status != "converted",
            sa.or_(LeadRow.engagement_value > 0, LeadRow.above_threshold.is_(True)),
            sa.tuple_(LeadRow.tenant_id, LeadRow.id) > sa.tuple_(*after),
        )
        .order_by(LeadRow.tenant_id, LeadRow.id)
        .limit(limit)
    )
    return [(t, i) for t, i in session.execute(query)]


def open_leads_per_owner(session: Session, tenant_id: str, owners: Iterable[str]) -> dict[str, int]:
    owners = list(owners)
    if not owners:
        return {}
    query = (
        sa.select(LeadRow.owner_id, sa.func.count())
        .where(LeadRow.tenant_id == tenant_id, LeadRow.owner_id.in_(owners), LeadRow.status.in_(OPEN_STATUSES))
        .group_by(LeadRow.owner_id)
    )
    return {owner: int(count) for owner, count in session.execute(query)}


FILTERABLE = [
    Field("givenName", LeadRow.given_name, Kind.TEXT, sortable=True),
    Field("familyName", LeadRow.family_name, Kind.TEXT, sortable=True),
    Field("email", LeadRow.email, Kind.TEXT, sortable=True),
    Field("company", LeadRow.company, Kind.TEXT, sortable=True),
    Field("title", LeadRow.title, Kind.TEXT),
    Field("source", LeadRow.source, Kind.ENUM),
    Field("country", LeadRow.country, Kind.ENUM),
    Field("industry", LeadRow.industry, Kind.TEXT),
    Field("companySize", LeadRow.company_size, Kind.ENUM),
    Field("status", LeadRow.status, Kind.ENUM),
    Field("ownerId", LeadRow.owner_id, Kind.ENUM),
    Field("score", LeadRow.score, Kind.NUMBER, sortable=True),
    Field("customAttributes", LeadRow.custom_attributes, Kind.JSON_OBJECT),
    Field("createTime", LeadRow.create_time, Kind.TIMESTAMP, sortable=True),
    Field("updateTime", LeadRow.update_time, Kind.TIMESTAMP, sortable=True),
]


@dataclass(frozen=True)
class Listing:
    filter: str
    order_by: str
    owner_id: str | None = None

    def orders(self) -> list[Order]:
        return parse_order_by(self.order_by, FILTERABLE, default=[])


def page_leads(
    session: Session, tenant_id: str, listing: Listing, after: list[Any] | None, limit: int
) -> list[tuple[Lead, ScoreState, list[Any]]]:
    orders = listing.orders()
    query = sa.select(LeadRow).where(LeadRow.tenant_id == tenant_id)
    condition = compile_filter(listing.filter, FILTERABLE, session.get_bind().dialect.name)
    if condition is not None:
        query = query.where(condition)
    if listing.owner_id is not None:
        query = query.where(LeadRow.owner_id == listing.owner_id)
    if after:
        if len(after) != len(orders) + 1:
            raise LookupError("position does not match the order")
        query = query.where(after_position(orders, LeadRow.id, after))
    rows = session.scalars(query.order_by(*order_clauses(orders, LeadRow.id)).limit(limit)).all()
    return [(_lead(r), _score_state(r), [getattr(r, o.field.column.key) for o in orders] + [r.id]) for r in rows]


# ---- history -----------------------------------------------------------------------------------


def add_history(session: Session, tenant_id: str, lead_id: str, entries: Sequence[HistoryEntry]) -> None:
    for entry in entries:
        session.add(
            LeadHistoryRow(
                tenant_id=tenant_id,
                lead_id=lead_id,
                time=entry.time,
                kind=entry.kind,
                message=entry.message[:4000],
                actor=entry.actor[:200],
                score_delta=entry.score_delta,
                score=entry.score,
            )
        )
    session.flush()


def history(session: Session, tenant_id: str, lead_id: str, limit: int = 200) -> list[HistoryEntry]:
    query = (
        sa.select(LeadHistoryRow)
        .where(LeadHistoryRow.tenant_id == tenant_id, LeadHistoryRow.lead_id == lead_id)
        .order_by(LeadHistoryRow.id.desc())
        .limit(limit)
    )
    rows = list(session.scalars(query))[::-1]
    return [HistoryEntry(r.time, r.kind, r.message, r.actor, r.score_delta, r.score) for r in rows]


# ---- conversions -------------------------------------------------------------------------------


def get_conversion(
    session: Session, tenant_id: str, lead_id: str, *, for_update: bool = False
) -> LeadConversionRow | None:
    return session.get(LeadConversionRow, (tenant_id, lead_id), with_for_update=for_update)


def start_conversion(session: Session, tenant_id: str, lead_id: str, now: dt.datetime) -> LeadConversionRow:
    row = get_conversion(session, tenant_id, lead_id)
    if row is None:
        row = LeadConversionRow(
            tenant_id=tenant_id,
            lead_id=lead_id,
            state="started",
            contact_id="",
            contact_reused=False,
            account_id="",
            account_reused=False,
            account_linked=False,
            opportunity_id="",
            attempts=0,
            create_time=now,
            update_time=now,
        )
        session.add(row)
    row.attempts += 1
    row.update_time = now
    session.flush()
    return row


# ---- web forms ---------------------------------------------------------------------------------


def add_web_form(session: Session, row: WebFormRow) -> None:
    session.add(row)
    session.flush()


def web_form(session: Session, tenant_id: str, form_id: str) -> WebFormRow | None:
    return session.scalars(
        sa.select(WebFormRow).where(WebFormRow.tenant_id == tenant_id, WebFormRow.id == form_id)
    ).first()


def delete_web_form(session: Session, tenant_id: str, form_id: str) -> bool:
    result = session.execute(sa.delete(WebFormRow).where(WebFormRow.tenant_id == tenant_id, WebFormRow.id == form_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def web_form_by_key(session: Session, key: str) -> WebFormRow | None:
    return session.scalars(sa.select(WebFormRow).where(WebFormRow.public_key == key)).first()


def web_forms(session: Session, tenant_id: str, after: str, limit: int) -> list[WebFormRow]:
    query = sa.select(WebFormRow).where(WebFormRow.tenant_id == tenant_id, WebFormRow.id > after)
    return list(session.scalars(query.order_by(WebFormRow.id).limit(limit)))


# ---- assignment rules --------------------------------------------------------------------------


def _rule(row: AssignmentRuleRow) -> AssignmentRule:
    conditions = tuple(Condition(c["attribute"], tuple(c["values"])) for c in row.conditions)
    return AssignmentRule(
        row.id,
        row.tenant_id,
        row.name,
        row.position,
        conditions,
        row.territory,
        tuple(row.owner_ids),
        row.capacity_per_owner,
        row.create_time,
        row.cursor,
    )


def add_assignment_rule(session: Session, rule: AssignmentRule) -> None:
    session.add(
        AssignmentRuleRow(
            id=rule.id,
            tenant_id=rule.tenant_id,
            name=rule.name,
            position=rule.position,
            conditions=[{"attribute": c.attribute, "values": list(c.values)} for c in rule.conditions],
            territory=rule.territory,
            owner_ids=list(rule.owner_ids),
            capacity_per_owner=rule.capacity_per_owner,
            cursor=0,
            create_time=rule.create_time,
        )
    )
    session.flush()


def assignment_rule(session: Session, tenant_id: str, rule_id: str) -> AssignmentRule | None:
    row = session.scalars(
        sa.select(AssignmentRuleRow).where(AssignmentRuleRow.tenant_id == tenant_id, AssignmentRuleRow.id == rule_id)
    ).first()
    return None if row is None else _rule(row)


def assignment_rules(
    session: Session, tenant_id: str, *, ids: Sequence[str] | None = None, for_update: bool = False
) -> list[AssignmentRule]:
    """The tenant's rules in evaluation order; with `for_update`, locked in that same order (so two
    writers lock them alike and cannot deadlock) and re-read after the lock for the latest cursor."""
    query = sa.select(AssignmentRuleRow).where(AssignmentRuleRow.tenant_id == tenant_id)
    if ids is not None:
        query = query.where(AssignmentRuleRow.id.in_(list(ids)))
    query = query.order_by(AssignmentRuleRow.position, AssignmentRuleRow.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return [_rule(r) for r in session.scalars(query)]


def move_cursor(session: Session, tenant_id: str, rule_id: str, cursor: int) -> None:
    session.execute(
        sa.update(AssignmentRuleRow)
        .where(AssignmentRuleRow.tenant_id == tenant_id, AssignmentRuleRow.id == rule_id)
        .values(cursor=cursor)
    )


def delete_assignment_rule(session: Session, tenant_id: str, rule_id: str) -> bool:
    result = session.execute(
        sa.delete(AssignmentRuleRow).where(AssignmentRuleRow.tenant_id == tenant_id, AssignmentRuleRow.id == rule_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ---- scoring -----------------------------------------------------------------------------------


def add_scoring_rule(session: Session, rule: ScoringRule) -> None:
    session.add(
        ScoringRuleRow(
            id=rule.id,
            tenant_id=rule.tenant_id,
            attribute=rule.attribute,
            value=rule.value,
            points=rule.points,
            create_time=rule.create_time,
        )
    )
    session.flush()


def _scoring_rule(row: ScoringRuleRow) -> ScoringRule:
    return ScoringRule(row.id, row.tenant_id, row.attribute, row.value, row.points, row.create_time)


def scoring_rule(session: Session, tenant_id: str, rule_id: str) -> ScoringRule | None:
    row = session.scalars(
        sa.select(ScoringRuleRow).where(ScoringRuleRow.tenant_id == tenant_id, ScoringRuleRow.id == rule_id)
    ).first()
    return None if row is None else _scoring_rule(row)


def scoring_rules(session: Session, tenant_id: str, after: str = "", limit: int | None = None) -> list[ScoringRule]:
    query = sa.select(ScoringRuleRow).where(ScoringRuleRow.tenant_id == tenant_id, ScoringRuleRow.id > after)
    query = query.order_by(ScoringRuleRow.id)
    if limit is not None:
        query = query.limit(limit)
    return [_scoring_rule(r) for r in session.scalars(query)]


def delete_scoring_rule(session: Session, tenant_id: str, rule_id: str) -> bool:
    result = session.execute(
        sa.delete(ScoringRuleRow).where(ScoringRuleRow.tenant_id == tenant_id, ScoringRuleRow.id == rule_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def scoring_settings(session: Session, tenant_id: str) -> ScoringSettings:
    row = session.get(ScoringSettingsRow, tenant_id)
    if row is None:
        return ScoringSettings()
    return ScoringSettings(
        row.email_opened_points, row.email_clicked_points, row.form_submitted_points, row.half_life_days, row.threshold
    )


def save_scoring_settings(session: Session, tenant_id: str, settings: ScoringSettings) -> None:
    row = session.get(ScoringSettingsRow, tenant_id)
    if row is None:
        row = ScoringSettingsRow(tenant_id=tenant_id)
        session.add(row)
    row.email_opened_points = settings.email_opened_points
    row.email_clicked_points = settings.email_clicked_points
    row.form_submitted_points = settings.form_submitted_points
    row.half_life_days = settings.half_life_days
    row.threshold = settings.threshold
    session.flush()
