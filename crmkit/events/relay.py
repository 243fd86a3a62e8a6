"""The relay: publishes outbox rows with publisher confirms, then marks them sent.

A batch is selected FOR UPDATE SKIP LOCKED (PostgreSQL), so any number of relays run side by side
and never send the same row twice; a row is marked sent only after the broker confirmed it, in the
same transaction that locked it. If the relay dies between confirm and commit the row is sent again
(at-least-once), and the consumers' inbox turns that into exactly-once in effect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from opentelemetry import trace
from sqlalchemy.orm import Session

from crmkit import metrics
from crmkit.db import Database, one_of, utcnow
from crmkit.events.outbox import notify_channel
from crmkit.events.transport import Confirmation, OutgoingMessage, Publisher
from crmkit.telemetry import context_from_headers, current_trace_headers, tracer

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        outbox: sa.Table,
        publisher: Publisher,
        *,
        source: str,
        batch_size: int = 200,
        poll_seconds: float = 0.2,
        wakeup: threading.Event | None = None,
        in_flight: int = 4,
        confirm_timeout: float = 30.0,
        listening_poll_seconds: float = 5.0,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.publisher = publisher
        self.source = source
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.wakeup = wakeup or threading.Event()
        self.in_flight = max(1, in_flight)
        self.confirm_timeout = confirm_timeout
        # While LISTEN is on, every commit wakes the relay: the poll is only a safety net, and an
        # idle relay polling every `poll_seconds` would cost CPU for nothing (docs/adr/0086).
        self.listening_poll_seconds = max(poll_seconds, listening_poll_seconds)
        self.listening = threading.Event()

    def publish_batch(self) -> int:
        """Publish one batch and wait for its confirms; returns how many rows it sent (0 when the
        outbox is empty)."""
        batch = self._claim()
        if batch is None:
            return 0
        try:
            batch.confirmation.wait(self.confirm_timeout)
        except BaseException as exc:
            batch.abandon()
            if isinstance(exc, TimeoutError):
                self.publisher.close()  # the connection is stuck: the next batch opens a new one
            raise
        return self._finish(batch)

    def _claim(self) -> _Batch | None:
        """Lock the oldest unsent rows (skipping rows other batches hold) and start publishing them.
        The transaction stays open until the broker confirmed them: see _finish."""
        table = self.outbox
        scope = self.database.transaction()
        session = scope.__enter__()
        try:
            rows = session.execute(
                sa.select(table.c.id, table.c.event_type, table.c.payload)
                .where(table.c.sent_at.is_(None))
                .order_by(table.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                scope.__exit__(None, None, None)
                return None
            with _producer_spans(rows, self.source) as messages:
                confirmation = self.publisher.send(messages)
        except BaseException as exc:
            scope.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return _Batch(scope, session, [r.id for r in rows], confirmation)

    def _finish(self, batch: _Batch) -> int:
        """The broker confirmed the batch: mark its rows sent and commit."""
        table, session = self.outbox, batch.session
        try:
            batch.confirmation.wait(0)
            if self.database.dialect == "postgresql":
                # Marking rows sent need not wait for the disk: if the database loses this commit
                # in a crash, the rows are sent again and the inboxes drop the repeats (ADR 0031).
                session.execute(sa.text("SET LOCAL synchronous_commit = off"))
            session.execute(
                sa.update(table).where(one_of(table.c.id, batch.ids, self.database.dialect)).values(sent_at=utcnow())
            )
        except BaseException:
            batch.abandon()
            raise
        batch.scope.__exit__(None, None, None)
        metrics.EVENTS_PUBLISHED.labels(self.source).inc(len(batch.ids))
        log.debug("relay %s published %d events", self.source, len(batch.ids))
        return len(batch.ids)

    def _listen(self, stop: threading.Event) -> None:
        """LISTEN for the outbox's NOTIFY so that committed events are relayed at once, not at the next poll."""
        url = self.database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                # The listener only reads: TCP keepalives find a dead peer (a failed-over database)
                # within about 25 s, after which the relay polls every `poll_seconds` again.
                with psycopg.connect(
                    url, autocommit=True, keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3
                ) as connection:
                    connection.execute(f"LISTEN {notify_channel(self.source)}")
                    self.listening.set()
                    self.wakeup.set()  # anything committed while we were not listening
                    while not stop.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wakeup.set()
            except psycopg.Error as exc:  # polling goes on meanwhile; listen again shortly
                log.debug("outbox listener for %s lost its connection: %s", self.source, type(exc).__name__)
            finally:
                self.listening.clear()
            stop.wait(1.0)

    def backlog(self) -> tuple[int, float]:
        """(unsent rows, age in seconds of the oldest) for the outbox gauges."""
        table = self.outbox
        with self.database.transaction() as session:
            count, oldest = session.execute(
                sa.select(sa.func.count(), sa.func.min(table.c.created_at)).where(table.c.sent_at.is_(None))
            ).one()
        if oldest is not None and oldest.tzinfo is None:  # func.min bypasses the column type on SQLite
            from datetime import UTC, datetime

            oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=UTC)
        return count, (utcnow() - oldest).total_seconds() if oldest else 0.0

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop`: on PostgreSQL up to `in_flight` batches are published at once, each in
        its own transaction, so events committed while the broker confirms a batch go out at once
        instead of after it (docs/adr/0081). SQLite takes one writer at a time: one batch."""
        if self.database.dialect == "postgresql":
            threading.Thread(target=self._listen, args=(stop,), name=f"relay-listen-{self.source}", daemon=True).start()
        depth = self.in_flight if self.database.dialect == "postgresql" else 1
        batches: deque[_Batch] = deque()
        failures = 0
        try:
            while not stop.is_set():
                # Cleared before the batch is selected, not after the wait: a commit (or a confirm)
                # that lands meanwhile sets it again and is acted on at once, not a poll later.
                self.wakeup.clear()
                full = False
                try:
                    if len(batches) >= depth:
                        self._finish_confirmed(batches)
                    if len(batches) < depth and (batch := self._claim()) is not None:
                        batches.append(batch)
                        full = len(batch.ids) == self.batch_size
                    self._finish_confirmed(batches)
                    failures = 0
                except Exception as exc:  # broker or database down: keep the rows, back off, try again
                    _abandon_all(batches)
                    failures += 1
                    delay = min(0.1 * 2**failures, 5.0)
                    log.warning("outbox relay for %s failed (%s); retrying in %.1fs", self.source, exc, delay)
                    metrics.RELAY_FAILURES.labels(self.source).inc()
                    stop.wait(delay)
                    continue
                if len(batches) >= depth:
                    batches[0].confirmation.done.wait(self.poll_seconds)  # a confirm frees a place
                elif not full:
                    # The next commit or poll also commits the batches confirmed meanwhile: they
                    # need not wake the relay, which would then look for rows in vain. With none
                    # in flight and LISTEN on, only a commit has anything for the relay to do.
                    idle = not batches and self.listening.is_set()
                    self.wakeup.wait(self.listening_poll_seconds if idle else self.poll_seconds)
        finally:
            self._settle_on_stop(batches)
            self.publisher.close()

    def _settle_on_stop(self, batches: deque[_Batch]) -> None:
        """Commit what the broker confirms in time; roll back the rest (sent again after a restart)."""
        deadline = time.monotonic() + 5.0
        try:
            while batches:
                batches[0].confirmation.done.wait(max(0.0, deadline - time.monotonic()))
                self._finish(batches.popleft())
        except Exception as exc:
            log.debug("relay %s stopped with unconfirmed batches: %s", self.source, exc)
        _abandon_all(batches)

    def _finish_confirmed(self, batches: deque[_Batch]) -> None:
        """Commit the batches the broker has answered, oldest first; a failed or overdue one raises."""
        while batches:
            head = batches[0]
            if not head.confirmation.done.is_set():
                if time.monotonic() - head.started > self.confirm_timeout:
                    self.publisher.close()  # the connection is stuck: the next batch opens a new one
                    head.confirmation.wait(0)  # raises TimeoutError
                return
            batches.popleft()
            self._finish(head)


@dataclass
class _Batch:
    """Rows locked by an open transaction, published, awaiting the broker's confirms."""

    scope: AbstractContextManager[Session]
    session: Session
    ids: list[str]
    confirmation: Confirmation
    started: float = field(default_factory=time.monotonic)

    def abandon(self) -> None:
        """Roll back: the rows stay unsent and are published again (the inboxes drop repeats)."""
        try:
            self.scope.__exit__(RuntimeError, RuntimeError("batch abandoned"), None)
        except RuntimeError:
            pass
        except Exception as exc:  # the database is away: its transaction is gone anyway
            log.debug("rolling back an outbox batch failed: %s", exc)


def _abandon_all(batches: deque[_Batch]) -> None:
    while batches:
        batches.popleft().abandon()


class BacklogReporter:
    """Refreshes the outbox backlog gauges now and then (a COUNT per poll would be wasteful)."""

    def __init__(self, relays: list[OutboxRelay], interval_seconds: float = 5.0) -> None:
        self.relays = relays
        self.interval = interval_seconds

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for relay in self.relays:
                try:
                    count, age = relay.backlog()
                except Exception as exc:
                    log.debug("backlog of %s unavailable: %s", relay.source, exc)
                    continue
                metrics.OUTBOX_BACKLOG.labels(relay.source).set(count)
                metrics.OUTBOX_OLDEST_AGE.labels(relay.source).set(age)
            stop.wait(self.interval)


@contextmanager
def _producer_spans(rows: Sequence[Any], source: str) -> Iterator[list[OutgoingMessage]]:
    """One PRODUCER span per event, a child of the transaction that wrote it; the published envelope
    carries the producer span's context, so each consumer's span becomes its child (one trace)."""
    relay_tracer = tracer("crm.relay")
    spans, messages = [], []
    for row in rows:
        envelope = Envelope.FromString(row.payload)
        parent = context_from_headers({"traceparent": envelope.traceparent, "tracestate": envelope.tracestate})
        span = relay_tracer.start_span(
            f"publish {envelope.type}",
            context=parent,
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.destination.name": envelope.type,
                "messaging.message.id": envelope.id,
                "crm.tenant_id": envelope.tenant,
                "crm.source": source,
            },
        )
        spans.append(span)
        if span.get_span_context().is_valid:
            with trace.use_span(span, end_on_exit=False):
                headers = current_trace_headers()
            envelope.traceparent = headers.get("traceparent", envelope.traceparent)
            envelope.tracestate = headers.get("tracestate", "")
        messages.append(OutgoingMessage(row.id, row.event_type, envelope.SerializeToString()))
    try:
        yield messages
    except Exception as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()
