"""The support service's tables and queries: the only module that touches its database.

Every query filters by tenant_id: another tenant's ids simply are not found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata, tenant_page, tenant_row
from crmkit.events.tables import add_messaging_tables
from services.support.domain import metrics, sla
from services.support.domain.agents import Agent, AgentFields, Group
from services.support.domain.articles import PUBLISHED, Article, ArticleFields, Category
from services.support.domain.business_hours import Calendar
from services.support.domain.surveys import Answer, Survey
from services.support.domain.tickets import ACTIVE_STATUSES, Comment, HistoryEntry, Ticket, TicketFields


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)

# Full-text search objects the migrations create but the models cannot describe portably
# (docs/adr/0018): the PostgreSQL tsvector column and its GIN index, and the SQLite FTS5 table
# with its shadow tables. crmkit.migrations leaves names matching these patterns out of the
# model/migration comparison.
Base.metadata.info["unmanaged"] = ("articles.search_vector", "ix_articles_search_vector", "articles_fts*")
ARTICLES_FTS = "articles_fts"


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        sa.Index("ix_tickets_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_tickets_tenant_id_status", "tenant_id", "status"),
        sa.Index("ix_tickets_tenant_id_assignee_id", "tenant_id", "assignee_id"),
        sa.Index("ix_tickets_tenant_id_external_thread_id", "tenant_id", "external_thread_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    subject: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text())
    requester_id: Mapped[str] = mapped_column(sa.String(64))
    priority: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))
    tags: Mapped[list[str]] = mapped_column(JSONType)
    assignee_id: Mapped[str] = mapped_column(sa.String(64))
    group_id: Mapped[str] = mapped_column(sa.String(64))
    required_skills: Mapped[list[str]] = mapped_column(JSONType)
    customer_tier: Mapped[str] = mapped_column(sa.String(64))
    external_thread_id: Mapped[str] = mapped_column(sa.String(998))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))
    first_response_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    solve_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reopen_count: Mapped[int] = mapped_column(sa.Integer())
    # The SLA clock (domain.sla.SlaState); the due times are what the SLA scheduler scans.
    sla_policy_id: Mapped[str] = mapped_column(sa.String(26), server_default="")
    sla_elapsed_seconds: Mapped[int] = mapped_column(sa.Integer(), server_default="0")
    sla_running_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_warn: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    first_response_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    resolution_warn: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    resolution_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class CommentRow(Base):
    __tablename__ = "ticket_comments"
    __table_args__ = (
        sa.Index("ix_ticket_comments_tenant_id_ticket_id_id", "tenant_id", "ticket_id", "id"),
        sa.Index("ix_ticket_comments_tenant_id_external_message_id", "tenant_id", "external_message_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    ticket_id: Mapped[str] = mapped_column(sa.String(26))
    body: Mapped[str] = mapped_column(sa.Text())
    visibility: Mapped[str] = mapped_column(sa.String(16))
    author_type: Mapped[str] = mapped_column(sa.String(16))
    author_id: Mapped[str] = mapped_column(sa.String(200))
    external_message_id: Mapped[str] = mapped_column(sa.String(998))
    in_reply_to: Mapped[str] = mapped_column(sa.String(998))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class HistoryRow(Base):
    __tablename__ = "ticket_history"
    __table_args__ = (sa.Index("ix_ticket_history_tenant_id_ticket_id_id", "tenant_id", "ticket_id", "id"),)

    # A sequence, not a ULID: entries written in the same millisecond keep their order.
    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    ticket_id: Mapped[str] = mapped_column(sa.String(26))
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str] = mapped_column(sa.String(200))
    message: Mapped[str] = mapped_column(sa.Text())


class AgentRow(Base):
    __tablename__ = "agents"
    __table_args__ = (sa.Index("ix_agents_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320))
    skills: Mapped[list[str]] = mapped_column(JSONType)
    group_ids: Mapped[list[str]] = mapped_column(JSONType)
    capacity: Mapped[int] = mapped_column(sa.Integer())
    available: Mapped[bool] = mapped_column(sa.Boolean())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class GroupRow(Base):
    __tablename__ = "agent_groups"
    __table_args__ = (sa.Index("ix_agent_groups_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SlaPolicyRow(Base):
    __tablename__ = "sla_policies"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "customer_tier", name="uq_sla_policies_tenant_id_tier"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    customer_tier: Mapped[str] = mapped_column(sa.String(64))
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    # [[weekday, start minute, end minute], ...]
    working_hours: Mapped[list[list[int]]] = mapped_column(JSONType)
    holidays: Mapped[list[str]] = mapped_column(JSONType)
    # {priority: [first response minutes, resolution minutes]}
    targets: Mapped[dict[str, list[int]]] = mapped_column(JSONType)
    warning_percent: Mapped[int] = mapped_column(sa.Integer())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SlaMarkerRow(Base):
    """An SLA warning or breach that fired, written in the transaction of its event: the
    scheduler never fires one twice, across restarts and replicas."""

    __tablename__ = "sla_markers"

    ticket_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    target: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    due_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (sa.Index("ix_articles_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text())
    category_id: Mapped[str] = mapped_column(sa.String(64))
    tags: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(16))
    author_id: Mapped[str] = mapped_column(sa.String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    publish_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    etag: Mapped[str] = mapped_column(sa.String(32))


class ArticleCategoryRow(Base):
    __tablename__ = "article_categories"
    __table_args__ = (sa.Index("ix_article_categories_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SurveyRow(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        sa.Index("ix_surveys_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_surveys_tenant_id_response_time", "tenant_id", "response_time"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    kind: Mapped[str] = mapped_column(sa.String(8))
    requester_id: Mapped[str] = mapped_column(sa.String(64))
    ticket_id: Mapped[str] = mapped_column(sa.String(26))
    agent_id: Mapped[str] = mapped_column(sa.String(64))
    group_id: Mapped[str] = mapped_column(sa.String(64))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expire_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    comment: Mapped[str] = mapped_column(sa.Text(), server_default="")
    response_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SecretRow(Base):
    """Per-deployment secrets the service generated at migration time (the survey signing key)."""

    __tablename__ = "support_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class EmailThreadRow(Base):
    """A ticket that came in by email: who to answer, from which address, and the thread's
    Message-IDs (oldest first), for threading replies both ways (docs/adr/0047)."""

    __tablename__ = "ticket_email_threads"

    ticket_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    requester_address: Mapped[str] = mapped_column(sa.String(320))
    support_address: Mapped[str] = mapped_column(sa.String(320))
    message_ids: Mapped[list[str]] = mapped_column(JSONType)
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# --- tickets ---


def _ticket(row: TicketRow) -> Ticket:
    data = TicketFields(
        subject=row.subject,
        description=row.description,
        requester_id=row.requester_id,
        priority=row.priority,
        status=row.status,
        channel=row.channel,
        tags=tuple(row.tags),
        assignee_id=row.assignee_id,
        group_id=row.group_id,
        required_skills=tuple(row.required_skills),
        customer_tier=row.customer_tier,
        external_thread_id=row.external_thread_id,
    )
    return Ticket(
        row.id,
        row.tenant_id,
        data,
        row.create_time,
        row.update_time,
        row.etag,
        row.first_response_time,
        row.solve_time,
        row.reopen_count,
    )


def _write_ticket(row: TicketRow, ticket: Ticket) -> None:
    data = ticket.data
    row.subject, row.description, row.requester_id = data.subject, data.description, data.requester_id
    row.priority, row.status, row.channel = data.priority, data.status, data.channel
    row.tags, row.required_skills = list(data.tags), list(data.required_skills)
    row.assignee_id, row.group_id, row.customer_tier = data.assignee_id, data.group_id, data.customer_tier
    row.external_thread_id = data.external_thread_id
    row.update_time, row.etag = ticket.update_time, ticket.etag
    row.first_response_time, row.solve_time, row.reopen_count = (
        ticket.first_response_time,
        ticket.solve_time,
        ticket.reopen_count,
    )


def add_ticket(session: Session, ticket: Ticket) -> None:
    row = TicketRow(id=ticket.id, tenant_id=ticket.tenant_id, create_time=ticket.create_time)
    _write_ticket(row, ticket)
    session.add(row)
    session.flush()


def get_ticket(session: Session, tenant_id: str, ticket_id: str, *, for_update: bool = False) -> Ticket | None:
    row = tenant_row(session, TicketRow, tenant_id, ticket_id, for_update=for_update)
    return None if row is None else _ticket(row)


def save_ticket(session: Session, ticket: Ticket) -> None:
    row = tenant_row(session, TicketRow, ticket.tenant_id, ticket.id)
    if row is None:
        raise LookupError(ticket.id)
    _write_ticket(row, ticket)
    session.flush()


def ticket_page(
    session: Session, tenant_id: str, equals: dict[str, str], after: str | None, limit: int
) -> list[Ticket]:
    return [_ticket(r) for r in tenant_page(session, TicketRow, tenant_id, after, limit, equals=equals)]


# --- comments and history ---


def add_comment(session: Session, comment: Comment) -> None:
    session.add(
        CommentRow(
            id=comment.id,
            tenant_id=comment.tenant_id,
            ticket_id=comment.ticket_id,
            body=comment.body,
            visibility=comment.visibility,
            author_type=comment.author_type,
            author_id=comment.author_id,
            external_message_id=comment.external_message_id,
            in_reply_to=comment.in_reply_to,
            create_time=comment.create_time,
        )
    )
    session.flush()


def comment_page(session: Session, tenant_id: str, ticket_id: str, after: str | None, limit: int) -> list[Comment]:
    rows = tenant_page(session, CommentRow, tenant_id, after, limit, equals={"ticket_id": ticket_id})
    return [
        Comment(
            r.id,
            r.tenant_id,
            r.ticket_id,
            r.body,
            r.visibility,
            r.author_type,
            r.author_id,
            r.external_message_id,
            r.in_reply_to,
            r.create_time,
        )
        for r in rows
    ]


def add_history(session: Session, ticket: Ticket, entries: list[HistoryEntry]) -> None:
    for entry in entries:
        session.add(
            HistoryRow(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                time=entry.time,
                kind=entry.kind,
                actor=entry.actor,
                message=entry.message,
            )
        )
    session.flush()


def history(session: Session, tenant_id: str, ticket_id: str) -> list[HistoryEntry]:
    query = (
        sa.select(HistoryRow)
        .where(HistoryRow.tenant_id == tenant_id, HistoryRow.ticket_id == ticket_id)
        .order_by(HistoryRow.id)
    )
    return [HistoryEntry(r.time, r.kind, r.actor, r.message) for r in session.scalars(query)]


def waiting_tickets(session: Session, tenant_id: str) -> list[Ticket]:
    """Active tickets nobody works on: the group queues."""
    query = sa.select(TicketRow).where(
        TicketRow.tenant_id == tenant_id, TicketRow.assignee_id == "", TicketRow.status.in_(ACTIVE_STATUSES)
    )
    return [_ticket(r) for r in session.scalars(query.order_by(TicketRow.id).with_for_update())]


def active_tickets_of(session: Session, tenant_id: str, agent_id: str) -> list[Ticket]:
    query = sa.select(TicketRow).where(
        TicketRow.tenant_id == tenant_id, TicketRow.assignee_id == agent_id, TicketRow.status.in_(ACTIVE_STATUSES)
    )
    return [_ticket(r) for r in session.scalars(query.order_by(TicketRow.id).with_for_update())]


# --- agents and groups ---


def _agent(row: AgentRow) -> Agent:
    data = AgentFields(
        row.display_name, row.email, tuple(row.skills), tuple(row.group_ids), row.capacity, row.available
    )
    return Agent(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def _write_agent(row: AgentRow, agent: Agent) -> None:
    data = agent.data
    row.display_name, row.email, row.capacity, row.available = (
        data.display_name,
        data.email,
        data.capacity,
        data.available,
    )
    row.skills, row.group_ids = list(data.skills), list(data.group_ids)
    row.update_time, row.etag = agent.update_time, agent.etag


def add_agent(session: Session, agent: Agent) -> None:
    row = AgentRow(id=agent.id, tenant_id=agent.tenant_id, create_time=agent.create_time)
    _write_agent(row, agent)
    session.add(row)
    session.flush()


def get_agent(session: Session, tenant_id: str, agent_id: str) -> Agent | None:
    row = tenant_row(session, AgentRow, tenant_id, agent_id)
    return None if row is None else _agent(row)


def save_agent(session: Session, agent: Agent) -> None:
    row = session.scalars(
        sa.select(AgentRow).where(AgentRow.tenant_id == agent.tenant_id, AgentRow.id == agent.id)
    ).one()
    _write_agent(row, agent)
    session.flush()


def lock_agents(session: Session, tenant_id: str) -> list[Agent]:
    """Every agent of the tenant, locked in id order (so two routers never deadlock).

    Routing decisions are made under these locks, so two transactions never both see the same
    spare capacity and overfill an agent; every transaction that routes takes them first.
    """
    query = sa.select(AgentRow).where(AgentRow.tenant_id == tenant_id).order_by(AgentRow.id).with_for_update()
    return [_agent(r) for r in session.scalars(query)]


def loads(session: Session, tenant_id: str) -> dict[str, int]:
    query = (
        sa.select(TicketRow.assignee_id, sa.func.count())
        .where(TicketRow.tenant_id == tenant_id, TicketRow.assignee_id != "", TicketRow.status.in_(ACTIVE_STATUSES))
        .group_by(TicketRow.assignee_id)
    )
    return {agent_id: count for agent_id, count in session.execute(query)}


def agent_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Agent]:
    return [_agent(r) for r in tenant_page(session, AgentRow, tenant_id, after, limit)]


def _group(row: GroupRow) -> Group:
    return Group(row.id, row.tenant_id, row.name, row.description, row.create_time)


def add_group(session: Session, group: Group) -> None:
    session.add(
        GroupRow(
            id=group.id,
            tenant_id=group.tenant_id,
            name=group.name,
            description=group.description,
            create_time=group.create_time,
        )
    )
    session.flush()


def get_group(session: Session, tenant_id: str, group_id: str) -> Group | None:
    row = tenant_row(session, GroupRow, tenant_id, group_id)
    return None if row is None else _group(row)


def group_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Group]:
    return [_group(r) for r in tenant_page(session, GroupRow, tenant_id, after, limit)]


# --- SLA ---


def sla_state(session: Session, tenant_id: str, ticket_id: str) -> sla.SlaState:
    row = tenant_row(session, TicketRow, tenant_id, ticket_id)
    if row is None:
        return sla.SlaState()
    return sla.SlaState(
        row.sla_policy_id,
        row.sla_elapsed_seconds,
        row.sla_running_since,
        row.first_response_warn,
        row.first_response_due,
        row.resolution_warn,
        row.resolution_due,
    )


def save_sla_state(session: Session, tenant_id: str, ticket_id: str, state: sla.SlaState) -> None:
    row = tenant_row(session, TicketRow, tenant_id, ticket_id)
    if row is None:
        raise LookupError(ticket_id)
    row.sla_policy_id, row.sla_elapsed_seconds, row.sla_running_since = (
        state.policy_id,
        state.elapsed_seconds,
        state.running_since,
    )
    row.first_response_warn, row.first_response_due = state.first_response_warn, state.first_response_due
    row.resolution_warn, row.resolution_due = state.resolution_warn, state.resolution_due
    session.flush()


def _policy(row: SlaPolicyRow) -> sla.SlaPolicy:
    hours: dict[int, list[tuple[int, int]]] = {}
    for day, start, end in row.working_hours:
        hours.setdefault(day, []).append((start, end))
    calendar = Calendar(
        row.time_zone,
        {d: tuple(sorted(v)) for d, v in hours.items()},
        frozenset(dt.date.fromisoformat(h) for h in row.holidays),
    )
    targets = {p: sla.Target(v[0], v[1]) for p, v in row.targets.items()}
    return sla.SlaPolicy(
        row.id, row.tenant_id, row.name, row.customer_tier, calendar, targets, row.warning_percent, row.create_time
    )


def add_policy(session: Session, policy: sla.SlaPolicy) -> None:
    calendar = policy.calendar
    session.add(
        SlaPolicyRow(
            id=policy.id,
            tenant_id=policy.tenant_id,
            name=policy.name,
            customer_tier=policy.customer_tier,
            time_zone=calendar.time_zone,
            working_hours=[[d, a, b] for d, spans in sorted(calendar.hours.items()) for a, b in spans],
            holidays=sorted(h.isoformat() for h in calendar.holidays),
            targets={p: [t.first_response_minutes, t.resolution_minutes] for p, t in policy.targets.items()},
            warning_percent=policy.warning_percent,
            create_time=policy.create_time,
        )
    )
    session.flush()


def get_policy(session: Session, tenant_id: str, policy_id: str) -> sla.SlaPolicy | None:
    row = tenant_row(session, SlaPolicyRow, tenant_id, policy_id)
    return None if row is None else _policy(row)


def policy_for_tier(session: Session, tenant_id: str, tier: str) -> sla.SlaPolicy | None:
    query = sa.select(SlaPolicyRow).where(
        SlaPolicyRow.tenant_id == tenant_id, SlaPolicyRow.customer_tier.in_({tier, ""})
    )
    return sla.select_policy([_policy(r) for r in session.scalars(query)], tier)


def policy_with_tier(session: Session, tenant_id: str, tier: str) -> sla.SlaPolicy | None:
    query = sa.select(SlaPolicyRow).where(SlaPolicyRow.tenant_id == tenant_id, SlaPolicyRow.customer_tier == tier)
    row = session.scalars(query).first()
    return None if row is None else _policy(row)


def policy_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[sla.SlaPolicy]:
    return [_policy(r) for r in tenant_page(session, SlaPolicyRow, tenant_id, after, limit)]


def delete_policy(session: Session, tenant_id: str, policy_id: str) -> bool:
    result = session.execute(
        sa.delete(SlaPolicyRow).where(SlaPolicyRow.tenant_id == tenant_id, SlaPolicyRow.id == policy_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fired_markers(session: Session, ticket_id: str) -> list[tuple[str, str]]:
    query = sa.select(SlaMarkerRow.target, SlaMarkerRow.kind).where(SlaMarkerRow.ticket_id == ticket_id)
    return [(t, k) for t, k in session.execute(query)]


def add_marker(session: Session, ticket: Ticket, alert: sla.Alert, now: dt.datetime) -> None:
    session.add(
        SlaMarkerRow(
            ticket_id=ticket.id,
            target=alert.target,
            kind=alert.kind,
            tenant_id=ticket.tenant_id,
            due_time=alert.due,
            fired_at=now,
        )
    )
    session.flush()


def tickets_with_alerts_due(session: Session, now: dt.datetime, limit: int) -> list[tuple[str, str]]:
    """(tenant_id, ticket_id) of tickets with a warning or breach due and not yet fired, across
    tenants: the SLA scheduler is the one reader that works for every tenant."""

    def unfired(target: str, kind: str) -> sa.ColumnElement[bool]:
        return ~sa.exists().where(
            SlaMarkerRow.ticket_id == TicketRow.id, SlaMarkerRow.target == target, SlaMarkerRow.kind == kind
        )

    conditions = []
    for target, warn, due in (
        (sla.FIRST_RESPONSE, TicketRow.first_response_warn, TicketRow.first_response_due),
        (sla.RESOLUTION, TicketRow.resolution_warn, TicketRow.resolution_due),
    ):
        conditions.append(sa.and_(due <= now, unfired(target, sla.BREACH)))
        conditions.append(sa.and_(warn <= now, unfired(target, sla.WARNING), unfired(target, sla.BREACH)))
    query = sa.select(TicketRow.tenant_id, TicketRow.id).where(sa.or_(*conditions)).order_by(TicketRow.id).limit(limit)
    return [(tenant, ticket_id) for tenant, ticket_id in session.execute(query)]


def lock_ticket_if_free(session: Session, tenant_id: str, ticket_id: str) -> Ticket | None:
    """The ticket locked for this transaction, or None when another transaction holds it."""
    query = (
        sa.select(TicketRow)
        .where(TicketRow.tenant_id == tenant_id, TicketRow.id == ticket_id)
        .with_for_update(skip_locked=True)
    )
    row = session.scalars(query).first()
    return None if row is None else _ticket(row)


# --- knowledge base ---


def _article(row: ArticleRow) -> Article:
    data = ArticleFields(row.title, row.body, row.category_id, tuple(row.tags), row.author_id)
    return Article(
        row.id, row.tenant_id, data, row.status, row.create_time, row.update_time, row.publish_time, row.etag
    )


def _write_article(row: ArticleRow, article: Article) -> None:
    data = article.data
    row.title, row.body, row.category_id, row.tags = data.title, data.body, data.category_id, list(data.tags)
    row.author_id, row.status, row.publish_time = data.author_id, article.status, article.publish_time
    row.update_time, row.etag = article.update_time, article.etag


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _sync_fts(session: Session, article: Article | None, article_id: str) -> None:
    """Keep the SQLite FTS5 index in step with the article, in the same transaction. (On
    PostgreSQL the tsvector column is generated by the database itself.)"""
    if not _sqlite(session):
        return
    session.execute(sa.text(f"DELETE FROM {ARTICLES_FTS} WHERE article_id = :id"), {"id": article_id})
    if article is not None:
        session.execute(
            sa.text(
                f"INSERT INTO {ARTICLES_FTS} (article_id, tenant_id, title, body) VALUES (:id, :tenant, :title, :body)"
            ),
            {"id": article.id, "tenant": article.tenant_id, "title": article.data.title, "body": article.data.body},
        )


def add_article(session: Session, article: Article) -> None:
    row = ArticleRow(id=article.id, tenant_id=article.tenant_id, create_time=article.create_time)
    _write_article(row, article)
    session.add(row)
    session.flush()
    _sync_fts(session, article, article.id)


def get_article(session: Session, tenant_id: str, article_id: str, *, for_update: bool = False) -> Article | None:
    row = tenant_row(session, ArticleRow, tenant_id, article_id, for_update=for_update)
    return None if row is None else _article(row)


def save_article(session: Session, article: Article) -> None:
    row = session.scalars(
        sa.select(ArticleRow).where(ArticleRow.tenant_id == article.tenant_id, ArticleRow.id == article.id)
    ).one()
    _write_article(row, article)
    session.flush()
    _sync_fts(session, article, article.id)


def delete_article(session: Session, tenant_id: str, article_id: str) -> None:
    session.execute(sa.delete(ArticleRow).where(ArticleRow.tenant_id == tenant_id, ArticleRow.id == article_id))
    _sync_fts(session, None, article_id)


def article_page(
    session: Session, tenant_id: str, equals: dict[str, str], after: str | None, limit: int
) -> list[Article]:
    return [_article(r) for r in tenant_page(session, ArticleRow, tenant_id, after, limit, equals=equals)]


def search_articles(
    session: Session, tenant_id: str, terms: list[str], *, any_word: bool, category_id: str, limit: int
) -> list[tuple[Article, float]]:
    """Published articles matching the terms (every one, or any one), best first, with a
    relevance where higher is better. `terms` are letters and digits only (domain.search_terms),
    and are passed as bound parameters all the same."""
    if not terms:
        return []
    if _sqlite(session):
        # FTS5: quoted terms, implicit AND or explicit OR; bm25 is lower for better matches, and
        # weighs a title hit ten times a body hit (the unindexed id columns weigh nothing).
        match = (" OR " if any_word else " ").join(f'"{t}"' for t in terms)
        fts = sa.table(ARTICLES_FTS, sa.column("article_id"), sa.column("tenant_id"))
        score = sa.literal_column(f"bm25({ARTICLES_FTS}, 0.0, 0.0, 10.0, 1.0)")
        query = (
            sa.select(ArticleRow, (-score).label("relevance"))
            .join(fts, sa.and_(fts.c.article_id == ArticleRow.id, fts.c.tenant_id == ArticleRow.tenant_id))
            .where(sa.literal_column(ARTICLES_FTS).op("MATCH")(match))
        )
    else:
        # A tsquery built from plain words joined by & or |, parsed with the same english
        # configuration as the generated column (stemming, stop words); ranked by ts_rank, whose
        # weights make a title (A) hit count more than a body (B) hit.
        tsquery = sa.func.to_tsquery("english", (" | " if any_word else " & ").join(terms))
        vector = sa.literal_column("articles.search_vector")
        query = sa.select(ArticleRow, sa.func.ts_rank(vector, tsquery).label("relevance")).where(
            vector.op("@@")(tsquery)
        )
    query = query.where(ArticleRow.tenant_id == tenant_id, ArticleRow.status == PUBLISHED)
    if category_id:
        query = query.where(ArticleRow.category_id == category_id)
    query = query.order_by(sa.desc("relevance"), ArticleRow.id).limit(limit)
    return [(_article(row), float(relevance)) for row, relevance in session.execute(query)]


def _category(row: ArticleCategoryRow) -> Category:
    return Category(row.id, row.tenant_id, row.name, row.description, row.create_time)


def add_category(session: Session, category: Category) -> None:
    session.add(
        ArticleCategoryRow(
            id=category.id,
            tenant_id=category.tenant_id,
            name=category.name,
            description=category.description,
            create_time=category.create_time,
        )
    )
    session.flush()


def get_category(session: Session, tenant_id: str, category_id: str) -> Category | None:
    row = tenant_row(session, ArticleCategoryRow, tenant_id, category_id)
    return None if row is None else _category(row)


def category_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Category]:
    return [_category(r) for r in tenant_page(session, ArticleCategoryRow, tenant_id, after, limit)]


# --- metrics ---


def metrics_facts(session: Session, tenant_id: str, end: dt.datetime) -> list[metrics.TicketFacts]:
    """Facts of every ticket created before `end`, with its status at `end` from the history."""
    tickets = session.scalars(
        sa.select(TicketRow).where(TicketRow.tenant_id == tenant_id, TicketRow.create_time < end).order_by(TicketRow.id)
    ).all()
    breached: dict[str, set[str]] = {}
    marker_query = sa.select(SlaMarkerRow.ticket_id, SlaMarkerRow.target).where(
        SlaMarkerRow.tenant_id == tenant_id, SlaMarkerRow.kind == sla.BREACH
    )
    for ticket_id, target in session.execute(marker_query):
        breached.setdefault(ticket_id, set()).add(target)
    changes: dict[str, list[tuple[dt.datetime, str]]] = {}
    history_query = (
        sa.select(HistoryRow.ticket_id, HistoryRow.time, HistoryRow.message)
        .join(TicketRow, sa.and_(TicketRow.id == HistoryRow.ticket_id, TicketRow.tenant_id == HistoryRow.tenant_id))
        .where(HistoryRow.tenant_id == tenant_id, HistoryRow.kind == "status", TicketRow.create_time < end)
        .order_by(HistoryRow.id)
    )
    for ticket_id, time, message in session.execute(history_query):
        changes.setdefault(ticket_id, []).append((time, message))
    return [
        metrics.TicketFacts(
            ticket_id=row.id,
            agent_id=row.assignee_id,
            group_id=row.group_id,
            create_time=row.create_time,
            first_response_time=row.first_response_time,
            solve_time=row.solve_time,
            reopen_count=row.reopen_count,
            has_sla=bool(row.sla_policy_id),
            breached=frozenset(breached.get(row.id, ())),
            status_at_end=metrics.status_at(row.status, changes.get(row.id, []), end),
        )
        for row in tickets
    ]


# --- surveys ---

SURVEY_KEY = "survey_signing_key"


def secret(session: Session, name: str) -> str:
    value = session.scalars(sa.select(SecretRow.value).where(SecretRow.name == name)).first()
    if not value:
        raise LookupError(f"no secret {name!r}: run the support migrations")
    return value


def _survey(row: SurveyRow) -> Survey:
    answer = None
    if row.score is not None and row.response_time is not None:
        answer = Answer(row.score, row.comment, row.response_time)
    return Survey(
        row.id,
        row.tenant_id,
        row.kind,
        row.requester_id,
        row.ticket_id,
        row.agent_id,
        row.group_id,
        row.create_time,
        row.expire_time,
        answer,
    )


def add_survey(session: Session, survey: Survey) -> None:
    session.add(
        SurveyRow(
            id=survey.id,
            tenant_id=survey.tenant_id,
            kind=survey.kind,
            requester_id=survey.requester_id,
            ticket_id=survey.ticket_id,
            agent_id=survey.agent_id,
            group_id=survey.group_id,
            create_time=survey.create_time,
            expire_time=survey.expire_time,
            comment="",
        )
    )
    session.flush()


def get_survey(session: Session, tenant_id: str, survey_id: str, *, for_update: bool = False) -> Survey | None:
    row = tenant_row(session, SurveyRow, tenant_id, survey_id, for_update=for_update)
    return None if row is None else _survey(row)


def save_answer(session: Session, survey: Survey) -> None:
    assert survey.answer is not None
    session.execute(
        sa.update(SurveyRow)
        .where(SurveyRow.tenant_id == survey.tenant_id, SurveyRow.id == survey.id)
        .values(score=survey.answer.score, comment=survey.answer.comment, response_time=survey.answer.response_time)
    )


def survey_answers(
    session: Session, tenant_id: str, start: dt.datetime, end: dt.datetime
) -> list[metrics.SurveyAnswer]:
    query = sa.select(SurveyRow).where(
        SurveyRow.tenant_id == tenant_id, SurveyRow.response_time >= start, SurveyRow.response_time < end
    )
    return [
        metrics.SurveyAnswer(r.kind, r.agent_id, r.group_id, r.score or 0, r.response_time or end)
        for r in session.scalars(query.order_by(SurveyRow.id))
    ]


# --- email threads ---


@dataclass(frozen=True)
class EmailThread:
    ticket_id: str
    requester_address: str
    support_address: str
    message_ids: tuple[str, ...]


def email_thread(session: Session, tenant_id: str, ticket_id: str) -> EmailThread | None:
    row = session.get(EmailThreadRow, ticket_id)
    if row is None or row.tenant_id != tenant_id:
        return None
    return EmailThread(row.ticket_id, row.requester_address, row.support_address, tuple(row.message_ids))


def save_email_thread(session: Session, tenant_id: str, thread: EmailThread, now: dt.datetime) -> None:
    row = session.get(EmailThreadRow, thread.ticket_id)
    if row is None:
        row = EmailThreadRow(ticket_id=thread.ticket_id, tenant_id=tenant_id)
        session.add(row)
    row.requester_address, row.support_address = thread.requester_address, thread.support_address
    row.message_ids, row.update_time = list(thread.message_ids), now
    session.flush()


def ticket_of_message(session: Session, tenant_id: str, message_ids: list[str]) -> tuple[str, bool] | None:
    """The ticket a Message-ID belongs to (opened it, or is one of its comments), and whether the
    first id given is itself known (a duplicate)."""
    if not message_ids:
        return None
    for position, message_id in enumerate(message_ids):
        found = (
            session.scalars(
                sa.select(TicketRow.id).where(
                    TicketRow.tenant_id == tenant_id, TicketRow.external_thread_id == message_id
                )
            ).first()
            or session.scalars(
                sa.select(CommentRow.ticket_id).where(
                    CommentRow.tenant_id == tenant_id, CommentRow.external_message_id == message_id
                )
            ).first()
        )
        if found:
            return found, position == 0
    return None
