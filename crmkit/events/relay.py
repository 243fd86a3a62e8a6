"""The relay: publishes outbox rows with publisher confirms, then marks them sent.

A batch is selected FOR UPDATE SKIP LOCKED (PostgreSQL), so any number of relays run side by side
and never send the same row twice; a row is marked sent only after the broker confirmed it, in the
same transaction that locked it. If the relay dies between confirm and commit the row is sent again
(at-least-once), and the consumers' inbox turns that into exactly-once in effect.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from opentelemetry import trace

from crmkit import metrics
from crmkit.db import Database, utcnow
from crmkit.events.outbox import notify_channel
from crmkit.events.transport import OutgoingMessage, Publisher
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
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.publisher = publisher
        self.source = source
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.wakeup = wakeup or threading.Event()

    def publish_batch(self) -> int:
        """Publish one batch; returns how many rows it sent (0 when the outbox is empty)."""
        table = self.outbox
        with self.database.transaction() as session:
            rows = session.execute(
                sa.select(table.c.id, table.c.event_type, table.c.payload)
                .where(table.c.sent_at.is_(None))
                .order_by(table.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            if self.database.dialect == "postgresql":
                # Marking rows sent need not wait for the disk: if the database loses this commit
                # in a crash, the rows are sent again and the inboxes drop the repeats (ADR 0031).
                session.execute(sa.text("SET LOCAL synchronous_commit = off"))
            with _producer_spans(rows, self.source) as messages:
                self.publisher.publish(messages)
            session.execute(sa.update(table).where(table.c.id.in_([r.id for r in rows])).values(sent_at=utcnow()))
        metrics.EVENTS_PUBLISHED.labels(self.source).inc(len(rows))
        log.debug("relay %s published %d events", self.source, len(rows))
        return len(rows)

    def _listen(self, stop: threading.Event) -> None:
        """LISTEN for the outbox's NOTIFY so that committed events are relayed at once, not at the next poll."""
        url = self.database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {notify_channel(self.source)}")
                    self.wakeup.set()  # anything committed while we were not listening
                    while not stop.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wakeup.set()
            except psycopg.Error as exc:  # polling goes on meanwhile; listen again shortly
                log.debug("outbox listener for %s lost its connection: %s", self.source, type(exc).__name__)
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
        if self.database.dialect == "postgresql":
            threading.Thread(target=self._listen, args=(stop,), name=f"relay-listen-{self.source}", daemon=True).start()
        failures = 0
        while not stop.is_set():
            # Cleared before the batch is selected, not after the wait: a commit that lands while
            # this batch is being published sets it again and is relayed at once, not a poll later.
            self.wakeup.clear()
            try:
                sent = self.publish_batch()
                failures = 0
            except Exception as exc:  # broker or database down: keep the rows, back off, try again
                failures += 1
                delay = min(0.1 * 2**failures, 5.0)
                log.warning("outbox relay for %s failed (%s); retrying in %.1fs", self.source, exc, delay)
                metrics.RELAY_FAILURES.labels(self.source).inc()
                stop.wait(delay)
                continue
            if sent < self.batch_size:
                self.wakeup.wait(self.poll_seconds)
        self.publisher.close()


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
