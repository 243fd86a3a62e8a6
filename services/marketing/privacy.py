"""Marketing's part of privacy requests (docs/adr/0048): the audience member of the contact (or
with its email) is exported, or replaced by a tombstone without personal data."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.privacy import Identifiers, participant, row_dict
from services.marketing.store import INBOX, AudienceMemberRow

COLUMNS = (
    *("contact_id", "email", "given_name", "family_name", "phone"),
    *("lifecycle_stage", "tags", "custom_fields", "deleted"),
)


def _members(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> list[AudienceMemberRow]:
    who = AudienceMemberRow.contact_id == contact_id
    if found.email_keys:
        who = sa.or_(who, sa.func.lower(AudienceMemberRow.email).in_(found.email_keys))
    query = sa.select(AudienceMemberRow).where(AudienceMemberRow.tenant_id == tenant_id, who)
    return list(session.scalars(query.with_for_update()))


def export(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, Any]:
    members = [m for m in _members(session, tenant_id, contact_id, found) if not m.deleted]
    return {"audienceMembers": [row_dict(m, COLUMNS) for m in members]}


def erase(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, int]:
    members = _members(session, tenant_id, contact_id, found)
    for member in members:  # a tombstone, so a late ContactUpdated cannot bring the person back
        member.email, member.given_name, member.family_name, member.tags = "", "", "", []
        member.phone, member.custom_fields = "", {}
        member.deleted, member.source_update_time = True, max(member.source_update_time, utcnow())
    return {"audienceMembers": len(members)}


def privacy_consumer(database: Database, outbox: Outbox) -> EventConsumer:
    return participant("marketing", database, INBOX, outbox, export, erase)
