"""Sales' part of privacy requests (docs/adr/0048): the person's leads (by contact id or email)
are exported, or deleted with their history. Conversion records keep only ids and stay."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.privacy import Identifiers, participant, row_dict, scrub_rows
from services.sales.lead_store import LeadHistoryRow, LeadRow
from services.sales.store import INBOX

LEAD_COLUMNS: tuple[str, ...] = ("id", "given_name", "family_name", "email", "phone", "company", "title", "source")
LEAD_COLUMNS += ("country", "industry", "company_size", "custom_attributes", "status", "score", "create_time")
HISTORY_COLUMNS = ("time", "kind", "message", "actor")


def _leads(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> list[LeadRow]:
    who = LeadRow.contact_id == contact_id
    if found.email_keys:
        who = sa.or_(who, LeadRow.email_key.in_(found.email_keys))
    query = sa.select(LeadRow).where(LeadRow.tenant_id == tenant_id, who).order_by(LeadRow.id)
    return list(session.scalars(query.with_for_update()))


def export(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, Any]:
    leads = []
    for lead in _leads(session, tenant_id, contact_id, found):
        history = session.scalars(
            sa.select(LeadHistoryRow)
            .where(LeadHistoryRow.tenant_id == tenant_id, LeadHistoryRow.lead_id == lead.id)
            .order_by(LeadHistoryRow.id)
        )
        leads.append({**row_dict(lead, LEAD_COLUMNS), "history": [row_dict(h, HISTORY_COLUMNS) for h in history]})
    return {"leads": leads}


def erase(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, int]:
    ids = [lead.id for lead in _leads(session, tenant_id, contact_id, found)]
    history = session.execute(
        sa.delete(LeadHistoryRow).where(LeadHistoryRow.tenant_id == tenant_id, LeadHistoryRow.lead_id.in_(ids))
    ).rowcount  # type: ignore[attr-defined]
    session.execute(sa.delete(LeadRow).where(LeadRow.tenant_id == tenant_id, LeadRow.id.in_(ids)))
    # Other leads' history may name the person (an actor or a note): pseudonymised, kept.
    mentioned = scrub_rows(
        session,
        LeadHistoryRow.__table__,  # type: ignore[arg-type]
        ["message", "actor"],
        found.needles,
        LeadHistoryRow.tenant_id == tenant_id,
    )
    return {"leads": len(ids), "leadHistory": history or 0, "leadHistoryScrubbed": mentioned}


def privacy_consumer(database: Database, outbox: Outbox) -> EventConsumer:
    return participant("sales", database, INBOX, outbox, export, erase)
