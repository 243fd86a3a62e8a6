"""Support's part of privacy requests (docs/adr/0048). Tickets are business records: they stay,
with the person's name, email and phone replaced by [erased] wherever they appear in ticket text,
comments, history and survey comments. The requester id (a contact id) stays as a pseudonym."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.privacy import Identifiers, participant, row_dict, scrub_rows
from services.support.store import INBOX, CommentRow, HistoryRow, SurveyRow, TicketRow

TICKET_COLUMNS = ("id", "subject", "description", "priority", "status", "channel", "create_time", "update_time")
COMMENT_COLUMNS = ("id", "ticket_id", "body", "author_type", "author_id", "create_time")
SURVEY_COLUMNS = ("id", "kind", "ticket_id", "score", "comment", "response_time")


def export(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, Any]:
    tickets = list(
        session.scalars(
            sa.select(TicketRow)
            .where(TicketRow.tenant_id == tenant_id, TicketRow.requester_id == contact_id)
            .order_by(TicketRow.id)
        )
    )
    ids = [t.id for t in tickets]
    # Public comments on their tickets and whatever they wrote elsewhere; internal notes are the tenant's.
    comments = session.scalars(
        sa.select(CommentRow)
        .where(
            CommentRow.tenant_id == tenant_id,
            sa.or_(
                sa.and_(CommentRow.ticket_id.in_(ids), CommentRow.visibility == "PUBLIC"),
                CommentRow.author_id == contact_id,
            ),
        )
        .order_by(CommentRow.id)
    )
    surveys = session.scalars(
        sa.select(SurveyRow)
        .where(SurveyRow.tenant_id == tenant_id, SurveyRow.requester_id == contact_id)
        .order_by(SurveyRow.id)
    )
    return {
        "tickets": [row_dict(t, TICKET_COLUMNS) for t in tickets],
        "comments": [row_dict(c, COMMENT_COLUMNS) for c in comments],
        "surveys": [row_dict(s, SURVEY_COLUMNS) for s in surveys],
    }


def erase(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, int]:
    needles = found.needles
    tickets = TicketRow.__table__
    comments = CommentRow.__table__
    return {
        "tickets": scrub_rows(
            session,
            tickets,  # type: ignore[arg-type]
            ["subject", "description", "external_thread_id"],
            needles,
            TicketRow.tenant_id == tenant_id,
        ),
        "comments": scrub_rows(
            session,
            comments,  # type: ignore[arg-type]
            ["body", "author_id", "external_message_id", "in_reply_to"],
            needles,
            CommentRow.tenant_id == tenant_id,
        ),
        "history": scrub_rows(
            session,
            HistoryRow.__table__,  # type: ignore[arg-type]
            ["message", "actor"],
            needles,
            HistoryRow.tenant_id == tenant_id,
        ),
        "surveys": scrub_rows(
            session,
            SurveyRow.__table__,  # type: ignore[arg-type]
            ["comment"],
            needles,
            SurveyRow.tenant_id == tenant_id,
        ),
    }


def privacy_consumer(database: Database, outbox: Outbox) -> EventConsumer:
    return participant("support", database, INBOX, outbox, export, erase)
