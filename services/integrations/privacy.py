"""Integrations' part of privacy requests (docs/adr/0048, 0065).

What integrations holds about a person: email deliveries (to, cc and from addresses, subject and,
until it is sent, the message itself), partner webhook deliveries (the JSON a partner received,
and the partner's answers), sync dead letters (a record from an outside system that failed to
import), and automation executions (the event data a rule ran on). An execution about the person
that has not run yet never runs. These are records of what was exchanged with others, so they stay, pseudonymised: the
person's identifiers are replaced by [erased]. A message still waiting to be sent to or about the
person is not sent at all. Inbound mail is not stored here (it lives in the outbox until relayed,
which the shared participant purges).
"""

from __future__ import annotations

import email
import json
from collections.abc import Sequence
from email import policy
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.privacy import (
    ERASED,
    Identifiers,
    contains,
    holds_bytes,
    mentions,
    participant,
    row_dict,
    scrub,
    scrub_bytes,
    scrub_rows,
)
from services.integrations.accounting import privacy as accounting_privacy
from services.integrations.automation.domain import PENDING, SKIPPED
from services.integrations.automation.store import ExecutionRow
from services.integrations.connections import erase_mappings
from services.integrations.odoo.connector import CONTACT
from services.integrations.store import INBOX, DeadLetterRow, EmailDeliveryRow
from services.integrations.webhooks.store import AttemptRow, DeliveryRow

EMAIL_COLUMNS = ("id", "from_address", "to_addresses", "cc_addresses", "subject", "origin", "status")
EMAIL_TIMES = ("create_time", "sent_time")
WEBHOOK_COLUMNS = ("id", "webhook_id", "event_type", "state", "create_time")
LETTER_COLUMNS = ("id", "connection_id", "stream", "external_id", "error", "create_time")
UNSENT = ("QUEUED", "SENDING")
ERASED_BEFORE_SENDING = "not sent: the recipient's personal data was erased"
ERASED_BEFORE_RUNNING = "not run: the personal data of the person it is about was erased"
EXECUTION_COLUMNS = ("id", "rule_id", "event_type", "subject_id", "state", "create_time")


def _variants(needles: Sequence[str]) -> tuple[str, ...]:
    """The needles and their JSON-escaped forms (a name with accents may be stored as \\u escapes)."""
    escaped = [json.dumps(n)[1:-1] for n in needles]
    return tuple(sorted(set(needles) | set(escaped), key=lambda s: (-len(s), s)))


def _as_text(column: Any) -> sa.ColumnElement[str]:
    return sa.cast(column, sa.Text())


def _deliveries(session: Session, tenant_id: str, needles: Sequence[str]) -> list[EmailDeliveryRow]:
    """Deliveries whose addresses or subject mention the person, and every unsent one of the
    tenant (its message may name the person in an encoded body; there are few)."""
    text = [
        EmailDeliveryRow.from_address,
        EmailDeliveryRow.subject,
        EmailDeliveryRow.in_reply_to,
        EmailDeliveryRow.error,
        _as_text(EmailDeliveryRow.recipients),
    ]
    found = sa.or_(mentions(text, needles), EmailDeliveryRow.status.in_(UNSENT)) if needles else sa.false()
    query = sa.select(EmailDeliveryRow).where(EmailDeliveryRow.tenant_id == tenant_id, found)
    return list(session.scalars(query.order_by(EmailDeliveryRow.id).with_for_update()))


def _message_mentions(raw: bytes, needles: Sequence[str]) -> bool:
    """The decoded message (headers and every text part) names the person."""
    if not raw:
        return False
    if contains(raw.decode("utf-8", "replace"), needles):
        return True
    message = email.message_from_bytes(raw, policy=policy.default)
    texts = [str(value) for value in message.values()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(part.get_content())  # type: ignore[attr-defined]
            except (LookupError, ValueError):  # an unknown charset: the raw check above stands
                continue
    return any(contains(text, needles) for text in texts)


def _scrub_addresses(addresses: list[str], emails: Sequence[str]) -> list[str]:
    keys = {e.lower() for e in emails}
    return [ERASED if a.lower() in keys else a for a in addresses]


def export(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, Any]:
    emails = found.email_keys
    about = _variants([contact_id, *emails])  # what webhook payloads and executions mention
    addressed = [
        row
        for row in _deliveries(session, tenant_id, emails)
        if {a.lower() for a in [row.from_address, *row.recipients]} & set(emails)
    ]
    webhooks = session.scalars(
        sa.select(DeliveryRow)
        .where(DeliveryRow.tenant_id == tenant_id, mentions([DeliveryRow.payload], about))
        .order_by(DeliveryRow.id)
    )
    letters = session.scalars(
        sa.select(DeadLetterRow)
        .where(
            DeadLetterRow.tenant_id == tenant_id,
            _letter_mentions(emails),
        )
        .order_by(DeadLetterRow.id)
    )
    return {
        "emailDeliveries": [row_dict(row, EMAIL_COLUMNS + EMAIL_TIMES) for row in addressed],
        "webhookDeliveries": [
            {**row_dict(row, WEBHOOK_COLUMNS), "payload": json.loads(row.payload)} for row in webhooks
        ],
        "syncDeadLetters": [row_dict(row, LETTER_COLUMNS) for row in letters],
        "automationExecutions": [
            {**row_dict(row, EXECUTION_COLUMNS), "eventData": row.event_data}
            for row in _executions(session, tenant_id, contact_id, about)
        ],
        **accounting_privacy.export(session, tenant_id, contact_id, found),
    }


def _executions(session: Session, tenant_id: str, contact_id: str, needles: Sequence[str]) -> list[ExecutionRow]:
    """Executions about the person (its contact id is their subject) or whose event data names them."""
    about = ExecutionRow.subject_id == contact_id
    found = sa.or_(about, mentions([_as_text(ExecutionRow.event_data)], needles)) if needles else about
    query = sa.select(ExecutionRow).where(ExecutionRow.tenant_id == tenant_id, found).order_by(ExecutionRow.id)
    return list(session.scalars(query.with_for_update()))


def _erase_executions(session: Session, tenant_id: str, contact_id: str, needles: Sequence[str]) -> int:
    rows = _executions(session, tenant_id, contact_id, needles)
    for row in rows:
        try:
            row.event_data = json.loads(scrub(json.dumps(row.event_data, ensure_ascii=False), needles))
        except ValueError:  # a needle cut through JSON syntax: keep nothing rather than the person
            row.event_data = {}
        row.reason = scrub(row.reason, needles)
        row.actions = [{**a, "error": scrub(a.get("error", ""), needles)} for a in row.actions]
        if row.state == PENDING:  # an email to the person, a task about them: not any more
            row.state, row.reason, row.next_attempt_time = SKIPPED, ERASED_BEFORE_RUNNING, None
    return len(rows)


def erase(session: Session, tenant_id: str, contact_id: str, found: Identifiers) -> dict[str, int]:
    # Invoices and payments are kept for law, under a pseudonym (ADR 59).
    accounting = accounting_privacy.erase(session, tenant_id, contact_id, found)
    # Partners synced to the person: tombstones, so Odoo's copy never comes back as a new contact.
    accounting["syncMappings"] = erase_mappings(session, tenant_id, CONTACT, contact_id)
    needles = found.needles
    if not needles:
        executions = _erase_executions(session, tenant_id, contact_id, ())
        return {
            "emailDeliveries": 0,
            "webhookDeliveries": 0,
            "syncDeadLetters": 0,
            "automationExecutions": executions,
            **accounting,
        }
    changed = 0
    for row in _deliveries(session, tenant_id, needles):
        in_message = _message_mentions(row.raw, needles)
        named = contains(
            " ".join([row.from_address, row.subject, row.in_reply_to, row.error, *row.recipients]), needles
        )
        if not (in_message or named):
            continue
        if row.status in UNSENT and in_message:
            # Never sent after the erasure; a delivery already being handed over keeps its status.
            row.raw = b""
            if row.status == "QUEUED":
                row.status, row.error = "FAILED", ERASED_BEFORE_SENDING
        row.from_address = scrub(row.from_address, needles)
        row.subject, row.in_reply_to, row.error = (scrub(v, needles) for v in (row.subject, row.in_reply_to, row.error))
        row.recipients = _scrub_addresses(list(row.recipients), found.emails)
        row.to_addresses = _scrub_addresses(list(row.to_addresses), found.emails)
        row.cc_addresses = _scrub_addresses(list(row.cc_addresses), found.emails)
        changed += 1
    variants = _variants(needles)
    deliveries = DeliveryRow.__table__
    webhooks = scrub_rows(session, deliveries, ["payload"], variants, deliveries.c.tenant_id == tenant_id)
    attempts = AttemptRow.__table__
    owned = attempts.c.delivery_id.in_(sa.select(deliveries.c.id).where(deliveries.c.tenant_id == tenant_id))
    scrub_rows(session, attempts, ["response_body", "error"], variants, owned)
    letters = list(
        session.scalars(
            sa.select(DeadLetterRow)
            .where(DeadLetterRow.tenant_id == tenant_id, _letter_mentions(variants))
            .with_for_update()
        )
    )
    for letter in letters:
        letter.payload = scrub_bytes(letter.payload, variants)
        letter.external_id, letter.error = scrub(letter.external_id, needles), scrub(letter.error, needles)
    executions = _erase_executions(session, tenant_id, contact_id, variants)
    return {
        "emailDeliveries": changed,
        "webhookDeliveries": webhooks,
        "syncDeadLetters": len(letters),
        "automationExecutions": executions,
        **accounting,
    }


def _letter_mentions(needles: Sequence[str]) -> sa.ColumnElement[bool]:
    if not needles:
        return sa.false()
    return sa.or_(
        mentions([DeadLetterRow.external_id, DeadLetterRow.error], needles), holds_bytes(DeadLetterRow.payload, needles)
    )


def privacy_consumer(database: Database, outbox: Outbox) -> EventConsumer:
    return participant("integrations", database, INBOX, outbox, export, erase)
