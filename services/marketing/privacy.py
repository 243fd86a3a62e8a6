"""Marketing's part of privacy requests (docs/adr/0048): the audience member of the contact (or
with its email) is exported, or replaced by a tombstone without personal data; the contact's
campaign message records are exported, or kept for the campaigns' counts without the address,
the personalised subject and links. Sequence enrolments (ids, steps, outcomes) are exported; an
erasure ends the active ones. The person's suppressed addresses are exported, and kept after an
erasure only as digests (docs/adr/0084)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.privacy import Identifiers, participant, row_dict
from services.marketing import sequences, store
from services.marketing.domain.sequences import CONTACT_DELETED
from services.marketing.store import INBOX, AudienceMemberRow, MessageRow

MESSAGE_COLUMNS = (
    *("id", "origin", "campaign_id", "sequence_id", "email", "status", "reason", "subject"),
    *("sent_time", "first_open_time", "first_click_time", "clicked_urls", "bounce_time", "unsubscribe_time"),
    "complaint_time",
)
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


def _messages(session: Session, tenant_id: str, contact_ids: set[str]) -> list[MessageRow]:
    query = sa.select(MessageRow).where(MessageRow.tenant_id == tenant_id, MessageRow.contact_id.in_(contact_ids))
    return list(session.scalars(query.order_by(MessageRow.id).with_for_update()))


def export(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, Any]:
    members = [m for m in _members(session, tenant_id, contact_id, found) if not m.deleted]
    messages = _messages(session, tenant_id, {contact_id, *(m.contact_id for m in members)})
    return {
        "audienceMembers": [row_dict(m, COLUMNS) for m in members],
        "messages": [row_dict(m, MESSAGE_COLUMNS) for m in messages],
        "sequenceEnrolments": sequences.export(session, tenant_id, {contact_id, *(m.contact_id for m in members)}),
        "suppressions": [
            {"email": s.email, "reason": s.reason, "createTime": s.create_time.isoformat()}
            for s in store.suppressions_of(session, tenant_id, contact_id, found.email_keys)
        ],
    }


def erase(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, int]:
    members = _members(session, tenant_id, contact_id, found)
    for member in members:  # a tombstone, so a late ContactUpdated cannot bring the person back
        member.email, member.given_name, member.family_name, member.tags = "", "", "", []
        member.phone, member.custom_fields = "", {}
        member.deleted, member.source_update_time = True, max(member.source_update_time, utcnow())
    messages = _messages(session, tenant_id, {contact_id, *(m.contact_id for m in members)})
    for message in messages:  # the record still counts in its campaign's analytics
        message.email, message.subject, message.links, message.clicked_urls = "", "", [], []
        message.render_error, message.error = "", ""
    ended = sequences.exit_contacts(
        session, tenant_id, sorted({contact_id, *(m.contact_id for m in members)}), CONTACT_DELETED, "erased", utcnow()
    )
    # The address stays suppressed (a bounce or complaint must not be forgotten), as a digest.
    suppressions = store.erase_suppressions(session, tenant_id, contact_id, found.email_keys)
    return {
        "audienceMembers": len(members),
        "messages": len(messages),
        "sequenceEnrolments": ended,
        "suppressions": suppressions,
    }


def privacy_consumer(database: Database, outbox: Outbox) -> EventConsumer:
    return participant("marketing", database, INBOX, outbox, export, erase)
