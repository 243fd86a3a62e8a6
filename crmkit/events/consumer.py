"""Consuming events: the inbox makes a redelivered message change nothing.

The handler runs in the same transaction as the inbox insert; the transport acks only after that
transaction committed. A failure rolls both back, so the message is retried with back-off and, when
retries are exhausted, parked as a dead letter — never lost, never half-applied.

The deliveries that are waiting are handled together, in one transaction (one commit instead of
one per event, docs/adr/0031). If anything in it fails, all of it rolls back and each delivery is
handled again on its own, so a poison event fails alone and its neighbours go through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import DecodeError, Message
from opentelemetry import trace
from opentelemetry.context import Context
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crmkit import causation, metrics
from crmkit.db import Database, utcnow
from crmkit.events.transport import Delivery, Outcome, Subscription, Verdict
from crmkit.telemetry import attached, context_from_headers, tracer

log = logging.getLogger(__name__)

# handler(session, envelope, payload): change this service's state for one event.
EventHandler = Callable[[Session, Envelope, Message], None]


@dataclass(frozen=True)
class Handles:
    message_type: type[Message]
    handler: EventHandler


@dataclass(frozen=True)
class _Work:
    index: int  # in the batch
    envelope: Envelope
    handles: Handles
    payload: Message
    attempt: int


@contextmanager
def _consumer_span(
    span_tracer: trace.Tracer, name: str, parent: Context, item: _Work, batch_size: int
) -> Iterator[trace.Span]:
    # The events a handler writes are caused by the one it handles, as they share its trace.
    with (
        attached(parent),
        causation.bound(item.envelope.causation_chain),
        span_tracer.start_as_current_span(name, kind=trace.SpanKind.CONSUMER) as span,
    ):
        span.set_attribute("messaging.message.id", item.envelope.id)
        span.set_attribute("messaging.destination.name", item.envelope.type)
        span.set_attribute("crm.tenant_id", item.envelope.tenant)
        span.set_attribute("crm.attempt", item.attempt)
        span.set_attribute("messaging.batch.message_count", batch_size)
        yield span


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
        return self.handle_batch([Delivery(body, attempt)])[0]

    def handle_batch(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        work: list[_Work] = []
        for index, delivery in enumerate(deliveries):
            try:
                envelope = Envelope.FromString(delivery.body)
            except DecodeError as exc:
                outcomes[index] = self._count(Outcome(Verdict.DEAD_LETTER, f"undecodable envelope: {exc}"))
                continue
            handles = self.handlers.get(envelope.type)
            if handles is None:
                outcomes[index] = self._count(Outcome(Verdict.ACK), "ignored")
                continue
            try:
                payload = handles.message_type.FromString(envelope.data)
            except DecodeError as exc:
                outcomes[index] = self._count(Outcome(Verdict.DEAD_LETTER, f"undecodable {envelope.type}: {exc}"))
                continue
            work.append(_Work(index, envelope, handles, payload, delivery.attempt))
        labels = self._together(work) if len(work) > 1 else None
        for item in work:
            if labels is not None:
                outcomes[item.index] = self._count(Outcome(Verdict.ACK), labels[item.index])
            else:  # alone, or the batch failed: one transaction each, with retries and dead letters
                with self._span(item, 1) as span:
                    outcomes[item.index] = self._handle(item.envelope, item.handles, item.payload, item.attempt, span)
        decided = [outcome for outcome in outcomes if outcome is not None]
        assert len(decided) == len(deliveries), "every delivery has an outcome"
        return decided

    def _span(self, item: _Work, batch_size: int) -> AbstractContextManager[trace.Span]:
        parent = context_from_headers(
            {"traceparent": item.envelope.traceparent, "tracestate": item.envelope.tracestate}
        )
        return _consumer_span(self._tracer, f"{self.name} process", parent, item, batch_size)

    def _together(self, work: list[_Work]) -> dict[int, str] | None:
        """Every item in one transaction: {index: processed|duplicate}, or None if it rolled back."""
        labels: dict[int, str] = {}
        try:
            with self.database.transaction() as session:
                new = self._record_all_in_inbox(session, [item.envelope.id for item in work])
                for item in work:
                    with self._span(item, len(work)):
                        if item.envelope.id not in new:  # seen before, or earlier in this very batch
                            labels[item.index] = "duplicate"
                            continue
                        new.discard(item.envelope.id)
                        item.handles.handler(session, item.envelope, item.payload)
                        labels[item.index] = "processed"
        except Exception as exc:
            log.info("%s: a batch of %d failed (%s); handling it one by one", self.name, len(work), type(exc).__name__)
            metrics.EVENT_BATCHES_SPLIT.labels(self.name).inc()
            return None
        return labels

    def _record_all_in_inbox(self, session: Session, message_ids: list[str]) -> set[str]:
        """One INSERT for the whole batch; returns the ids that were not in the inbox yet."""
        now = utcnow()
        rows = [{"consumer": self.name, "message_id": m, "processed_at": now} for m in dict.fromkeys(message_ids)]
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # One statement for any number of rows, given as executemany parameters: SQLAlchemy compiles
        # it once and batches the rows itself ("insertmanyvalues"). A VALUES list of this batch's
        # length was compiled anew for every batch: a fifth of a busy consumer's CPU.
        statement = insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.message_id)
        return {row[0] for row in session.execute(statement, rows)}

    def _handle(
        self, envelope: Envelope, handles: Handles, payload: Message, attempt: int, span: trace.Span
    ) -> Outcome:
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
