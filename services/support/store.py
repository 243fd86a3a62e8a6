"""The support service's tables and queries: the only module that touches its database.

Every query filters by tenant_id: another tenant's ids simply are not found.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata
from crmkit.events.tables import add_messaging_tables
from services.support.domain.tickets import Comment, HistoryEntry, Ticket, TicketFields


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)


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


class CommentRow(Base):
    __tablename__ = "ticket_comments"
    __table_args__ = (sa.Index("ix_ticket_comments_tenant_id_ticket_id_id", "tenant_id", "ticket_id", "id"),)

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
    row = _ticket_row(session, tenant_id, ticket_id, for_update)
    return None if row is None else _ticket(row)


def save_ticket(session: Session, ticket: Ticket) -> None:
    row = _ticket_row(session, ticket.tenant_id, ticket.id, for_update=False)
    if row is None:
        raise LookupError(ticket.id)
    _write_ticket(row, ticket)
    session.flush()


def ticket_page(
    session: Session, tenant_id: str, equals: dict[str, str], after: str | None, limit: int
) -> list[Ticket]:
    query = sa.select(TicketRow).where(TicketRow.tenant_id == tenant_id)
    for column, value in equals.items():
        query = query.where(getattr(TicketRow, column) == value)
    if after:
        query = query.where(TicketRow.id > after)
    return [_ticket(r) for r in session.scalars(query.order_by(TicketRow.id).limit(limit))]


def _ticket_row(session: Session, tenant_id: str, ticket_id: str, for_update: bool) -> TicketRow | None:
    query = sa.select(TicketRow).where(TicketRow.tenant_id == tenant_id, TicketRow.id == ticket_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


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
    query = sa.select(CommentRow).where(CommentRow.tenant_id == tenant_id, CommentRow.ticket_id == ticket_id)
    if after:
        query = query.where(CommentRow.id > after)
    rows = session.scalars(query.order_by(CommentRow.id).limit(limit))
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
