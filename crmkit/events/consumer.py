"""Consuming events: the inbox makes a redelivered message change nothing.

The handler runs in the same transaction as the inbox insert; the transport acks only after that
transaction committed. A failure rolls both back, so the message is retried with back-off and, when
retries are exhausted, parked as a dead letter — never lost, never half-applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import DecodeError, Message
from opentelemetry import trace
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crmkit import metrics
from crmkit.db import Database, utcnow
from crmkit.events.transport import Outcome, Subscription, Verdict
from crmkit.telemetry import attached, context_from_headers, tracer

log = logging.getLogger(__name__)

# handler(session, envelope, payload): change this service's state for one event.
EventHandler = Callable[[Session, Envelope, Message], None]


@dataclass(frozen=True)
class Handles:
    message_type: type[Message]
    handler: EventHandler


class EventConsumer:
    def __init__(
        self,
        name: str,
        database: Database,
        inbox: sa.Table,
        handlers: list[Handles],
        *,
        max_attempts: int = 4,
    ) -> None:
        self.name = name
        self.database = database
        self.inbox = inbox
        self.handlers = {h.message_type.DESCRIPTOR.full_name: h for h in handlers}
        self.max_attempts = max_attempts
        self._tracer = tracer(__name__)

    @property
    def subscription(self) -> Subscription:
        return Subscription(self.name, tuple(sorted(self.handlers)))

    def handle(self, body: bytes, attempt: int) -> Outcome:
        try:
            envelope = Envelope.FromString(body)
        except DecodeError as exc:
            return self._count(Outcome(Verdict.DEAD_LETTER, f"undecodable envelope: {exc}"))
        handles = self.handlers.get(envelope.type)
        if handles is None:
            return self._count(Outcome(Verdict.ACK), "ignored")
        parent = context_from_headers({"traceparent": envelope.traceparent, "tracestate": envelope.tracestate})
        with (
            attached(parent),
            self._tracer.start_as_current_span(f"{self.name} process", kind=trace.SpanKind.CONSUMER) as span,
        ):
            span.set_attribute("messaging.message.id", envelope.id)
            span.set_attribute("messaging.destination.name", envelope.type)
            span.set_attribute("crm.tenant_id", envelope.tenant)
            span.set_attribute("crm.attempt", attempt)
            return self._handle(envelope, handles, attempt, span)

    def _handle(self, envelope: Envelope, handles: Handles, attempt: int, span: trace.Span) -> Outcome:
        try:
            payload = handles.message_type.FromString(envelope.data)
        except DecodeError as exc:
            return self._count(Outcome(Verdict.DEAD_LETTER, f"undecodable {envelope.type}: {exc}"))
        try:
            with self.database.transaction() as session:
                if not self._record_in_inbox(session, envelope.id):
                    return self._count(Outcome(Verdict.ACK), "duplicate")
                handles.handler(session, envelope, payload)
        except IntegrityError as exc:
            if self._already_processed(envelope.id):  # a concurrent redelivery won the inbox insert
                return self._count(Outcome(Verdict.ACK), "duplicate")
            return self._failed(envelope, attempt, exc, span)
        except Exception as exc:
            return self._failed(envelope, attempt, exc, span)
        return self._count(Outcome(Verdict.ACK), "processed")

    def _record_in_inbox(self, session: Session, message_id: str) -> bool:
        values = {"consumer": self.name, "message_id": message_id, "processed_at": utcnow()}
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING here.
        statement = insert(self.inbox).values(**values).on_conflict_do_nothing().returning(self.inbox.c.message_id)
        return session.execute(statement).first() is not None

    def _already_processed(self, message_id: str) -> bool:
        with self.database.transaction() as session:
            found = session.execute(
                sa.select(self.inbox.c.message_id).where(
                    self.inbox.c.consumer == self.name, self.inbox.c.message_id == message_id
                )
            ).first()
        return found is not None

    def _failed(self, envelope: Envelope, attempt: int, exc: Exception, span: trace.Span) -> Outcome:
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempt + 1 >= self.max_attempts:
            log.error(
                "%s: event %s (%s) dead-lettered after %d attempts: %s",
                self.name,
                envelope.id,
                envelope.type,
                attempt + 1,
                type(exc).__name__,
            )
            return self._count(Outcome(Verdict.DEAD_LETTER, error))
        log.warning(
            "%s: event %s (%s) failed on attempt %d, will retry: %s",
            self.name,
            envelope.id,
            envelope.type,
            attempt + 1,
            type(exc).__name__,
        )
        return self._count(Outcome(Verdict.RETRY, error))

    def _count(self, outcome: Outcome, label: str | None = None) -> Outcome:
        metrics.EVENTS_CONSUMED.labels(self.name, label or outcome.verdict.value).inc()
        log.debug("%s: %s", self.name, label or outcome.verdict.value)
        return outcome
