"""Data-subject requests (docs/adr/0048): export a contact's data from every service, or erase it
everywhere. Contacts owns the request, does its own part in the request's transaction, publishes
the request for the other services and completes it when each of them has answered."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from crm.contacts.v1 import privacy_pb2
from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf import json_format
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import Database, JSONType, UTCDateTime, utcnow
from crmkit.errors import NotFound
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from crmkit.privacy import Identifiers, mentions, purge_outbox, scrub_bytes, scrub_rows
from crmkit.tokens import Principal
from services.contacts import activities, events, store
from services.contacts.import_store import ImportChunkRow, ImportErrorRow, ImportJobRow, ImportStagedRow
from services.contacts.messages import contact_to_proto
from services.contacts.store import INBOX, OUTBOX, Base
from services.contacts.timeline_store import ActivityRow, TimelineEntryRow

# Every service that holds personal data and answers privacy requests; a request completes when
# all of them have. A new participant is added here once its handler is deployed (ADR 48).
log = logging.getLogger(__name__)

PARTICIPANTS: tuple[str, ...] = ("contacts", "integrations", "marketing", "sales", "support")
SERVICE = "contacts"
CONSUMER = "contacts.privacy-progress"
EXPORT, ERASURE = "EXPORT", "ERASURE"
REQUEST_EVENTS = (
    privacy_pb2.PersonalDataExportRequested.DESCRIPTOR.full_name,
    privacy_pb2.PersonalDataErasureRequested.DESCRIPTOR.full_name,
)
PENDING, COMPLETED = "PENDING", "COMPLETED"


class PrivacyRequestRow(Base):
    __tablename__ = "privacy_requests"
    __table_args__ = (sa.Index("ix_privacy_requests_tenant_id_contact_id", "tenant_id", "contact_id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    contact_id: Mapped[str] = mapped_column(sa.String(26))
    kind: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16))
    expected: Mapped[list[str]] = mapped_column(JSONType)
    # service -> counts of what it erased ({} for exports): who has answered.
    progress: Mapped[dict[str, dict[str, int]]] = mapped_column(JSONType)
    # Exports: service -> its section. Emptied when the contact is erased later.
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    complete_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the request was last published to the services (None: only at create_time).
    ask_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class PrivacyRequest:
    id: str
    tenant_id: str
    contact_id: str
    kind: str
    state: str
    expected: tuple[str, ...]
    progress: dict[str, dict[str, int]] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    create_time: dt.datetime | None = None
    complete_time: dt.datetime | None = None


def _to_domain(row: PrivacyRequestRow) -> PrivacyRequest:
    return PrivacyRequest(
        row.id,
        row.tenant_id,
        row.contact_id,
        row.kind,
        row.state,
        tuple(row.expected),
        dict(row.progress),
        dict(row.document),
        row.create_time,
        row.complete_time,
    )


class PrivacyRequests:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        participants: tuple[str, ...] = PARTICIPANTS,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.participants = participants
        self.clock = clock

    def export(self, principal: Principal, contact_id: str) -> PrivacyRequest:
        with self.database.transaction() as session:
            contact = store.get(session, principal.tenant_id, contact_id)
            if contact is None:
                raise NotFound.resource("contact", contact_id)
            found = identifiers_of(contact)
            section = {"contact": json_format.MessageToDict(contact_to_proto(contact))}
            row = self._start(session, principal.tenant_id, contact_id, EXPORT)
            event = privacy_pb2.PersonalDataExportRequested(
                request_id=row.id, contact_id=contact_id, emails=found.emails, phones=found.phones, names=found.names
            )
            self.outbox.add(session, event, tenant_id=row.tenant_id, subject=row.id)
            _answer(row, SERVICE, {}, section, self.clock())
            return _to_domain(row)

    def erase(self, principal: Principal, contact_id: str) -> PrivacyRequest:
        with self.database.transaction() as session:
            contact = store.get(session, principal.tenant_id, contact_id, for_update=True)
            if contact is None:
                raise NotFound.resource("contact", contact_id)
            found = identifiers_of(contact)
            counts = erase_here(session, principal.tenant_id, contact_id, found, self.outbox, self.clock())
            self.outbox.add(
                session, events.contact_deleted(contact_id), tenant_id=principal.tenant_id, subject=contact_id
            )
            row = self._start(session, principal.tenant_id, contact_id, ERASURE)
            event = privacy_pb2.PersonalDataErasureRequested(
                request_id=row.id, contact_id=contact_id, emails=found.emails, phones=found.phones, names=found.names
            )
            self.outbox.add(session, event, tenant_id=row.tenant_id, subject=row.id)
            _answer(row, SERVICE, counts, None, self.clock())
            return _to_domain(row)

    def get(self, principal: Principal, request_id: str) -> PrivacyRequest:
        with self.database.transaction() as session:
            row = _row(session, principal.tenant_id, request_id)
            if row is None:
                raise NotFound.resource("privacy request", request_id)
            return _to_domain(row)

    def _start(self, session: Session, tenant_id: str, contact_id: str, kind: str) -> PrivacyRequestRow:
        row = PrivacyRequestRow(
            id=new_id(),
            tenant_id=tenant_id,
            contact_id=contact_id,
            kind=kind,
            state=PENDING,
            expected=list(self.participants),
            progress={},
            document={},
            create_time=self.clock(),
            complete_time=None,
        )
        session.add(row)
        return row

    def reask(self, after: dt.timedelta, limit: int = 100) -> int:
        """Publish again the requests some service has not answered for `after`: their outbox rows
        (the same message ids) go back to unsent, so the relay sends them once more. A service that
        handled one already ignores it (its inbox has the id); one that never got it, or parked it
        as a dead letter, does its part now. How many requests were asked again."""
        now = self.clock()
        with self.database.transaction() as session:
            asked = sa.func.coalesce(PrivacyRequestRow.ask_time, PrivacyRequestRow.create_time)
            query = (
                sa.select(PrivacyRequestRow)
                .where(PrivacyRequestRow.state == PENDING, asked < now - after)
                .order_by(PrivacyRequestRow.create_time)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list(session.scalars(query))
            for row in rows:
                session.execute(
                    sa.update(OUTBOX)
                    .where(OUTBOX.c.subject == row.id, OUTBOX.c.event_type.in_(REQUEST_EVENTS))
                    .values(sent_at=None)
                )
                row.ask_time = now
                waiting = sorted(set(row.expected) - set(row.progress))
                log.warning("privacy request %s still waits for %s; published again", row.id, ", ".join(waiting))
            if rows:
                self.outbox.wake_on_commit(session)
        return len(rows)

    # Answers of the other services (the consumer's transaction; the inbox makes them idempotent).

    def on_exported(self, session: Session, envelope: Envelope, event: privacy_pb2.PersonalDataExported) -> None:
        row = _row(session, envelope.tenant, event.request_id, for_update=True)
        if row is None or row.state == COMPLETED:
            return
        _answer(row, event.service, {}, json_format.MessageToDict(event.document), self.clock())
        _forget_identifiers(session, row)

    def on_erased(self, session: Session, envelope: Envelope, event: privacy_pb2.PersonalDataErased) -> None:
        row = _row(session, envelope.tenant, event.request_id, for_update=True)
        if row is None or row.state == COMPLETED:
            return
        _answer(row, event.service, dict(event.counts), None, self.clock())
        _forget_identifiers(session, row)

    def consumer(self) -> EventConsumer:
        return EventConsumer(
            CONSUMER,
            self.database,
            INBOX,
            [
                Handles(privacy_pb2.PersonalDataExported, self.on_exported),  # type: ignore[arg-type]
                Handles(privacy_pb2.PersonalDataErased, self.on_erased),  # type: ignore[arg-type]
            ],
        )


def _answer(
    row: PrivacyRequestRow, service: str, counts: dict[str, int], section: dict[str, Any] | None, now: dt.datetime
) -> None:
    """Record one service's answer (a repeated answer replaces the first) and complete the request
    once every expected service has answered."""
    row.progress = {**row.progress, service: {k: int(v) for k, v in counts.items()}}
    if section is not None:
        row.document = {**row.document, service: section}
    if set(row.expected) <= set(row.progress):
        row.state, row.complete_time = COMPLETED, now


def _forget_identifiers(session: Session, row: PrivacyRequestRow) -> None:
    """The request event carried the person's identifiers: once every service has answered it,
    contacts' copy goes (its outbox rows of the request)."""
    if row.state == COMPLETED:
        session.execute(sa.delete(OUTBOX).where(OUTBOX.c.subject == row.id))


def _row(session: Session, tenant_id: str, request_id: str, for_update: bool = False) -> PrivacyRequestRow | None:
    query = sa.select(PrivacyRequestRow).where(
        PrivacyRequestRow.tenant_id == tenant_id, PrivacyRequestRow.id == request_id
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def identifiers_of(contact: Any) -> Identifiers:
    data = contact.data
    full = f"{data.given_name} {data.family_name}".strip()
    return Identifiers.of(data.emails, data.phones, [full, data.given_name, data.family_name])


def erase_here(
    session: Session, tenant_id: str, contact_id: str, found: Identifiers, outbox: Outbox, now: dt.datetime
) -> dict[str, int]:
    """Contacts' own part of an erasure: the contact goes with its timeline and activity links (as on
    a delete), and its traces in other contacts' activities and timeline entries, import staging,
    import errors, uploaded import files, earlier exports and the outbox are removed or scrubbed."""
    needles = found.needles
    store.delete(session, tenant_id, contact_id)
    activities.forget_contact(session, outbox, tenant_id, contact_id, now)
    mentioned = scrub_rows(
        session, ActivityRow.__table__, ["subject", "body"], needles, ActivityRow.tenant_id == tenant_id
    )
    mentioned += scrub_rows(
        session, TimelineEntryRow.__table__, ["title", "summary"], needles, TimelineEntryRow.tenant_id == tenant_id
    )
    jobs = sa.select(ImportJobRow.id).where(ImportJobRow.tenant_id == tenant_id).scalar_subquery()
    staged = session.execute(
        sa.delete(ImportStagedRow).where(
            ImportStagedRow.job_id.in_(jobs),
            sa.or_(ImportStagedRow.match_key.in_(found.email_keys), _mentions(ImportStagedRow.fields, needles)),
        )
    ).rowcount  # type: ignore[attr-defined]
    errors = scrub_rows(
        session,
        ImportErrorRow.__table__,
        ["message"],
        needles,
        ImportErrorRow.job_id.in_(jobs),  # type: ignore[arg-type]
    )
    scrub_rows(
        session,
        ImportJobRow.__table__,
        ["error_message"],
        needles,
        ImportJobRow.tenant_id == tenant_id,  # type: ignore[arg-type]
    )
    chunks = 0
    for chunk in session.scalars(sa.select(ImportChunkRow).where(ImportChunkRow.job_id.in_(jobs))):
        cleaned = scrub_bytes(chunk.data, needles)
        if cleaned != chunk.data:
            chunk.data, chunks = cleaned, chunks + 1
    exports = session.execute(
        sa.update(PrivacyRequestRow)
        .where(PrivacyRequestRow.tenant_id == tenant_id, PrivacyRequestRow.contact_id == contact_id)
        .values(document={})
    ).rowcount  # type: ignore[attr-defined]
    events_purged = purge_outbox(session, OUTBOX, needles)
    return {
        "contacts": 1,
        "importRows": staged or 0,
        "importErrors": errors,
        "importChunks": chunks,
        "exports": exports or 0,
        "mentions": mentioned,
        "events": events_purged,
    }


def _mentions(column: Any, needles: tuple[str, ...]) -> Any:
    return mentions([column], needles) if needles else sa.false()


def to_proto(request: PrivacyRequest) -> privacy_pb2.PrivacyRequest:
    message = privacy_pb2.PrivacyRequest(
        id=request.id,
        kind=privacy_pb2.PrivacyRequest.Kind.Value(request.kind),
        state=privacy_pb2.PrivacyRequest.State.Value(request.state),
        contact_id=request.contact_id,
    )
    for service in request.expected:
        progress = message.services.add(service=service, done=service in request.progress)
        progress.counts.update(request.progress.get(service, {}))
    if request.kind == EXPORT and request.state == COMPLETED:
        message.document.update(request.document)
    if request.create_time:
        message.create_time.FromDatetime(request.create_time)
    if request.complete_time:
        message.complete_time.FromDatetime(request.complete_time)
    return message
