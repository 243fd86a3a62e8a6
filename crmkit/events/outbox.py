"""Writing events: an outbox row in the same transaction as the state change it describes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import Message
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from crmkit import causation
from crmkit.db import utcnow
from crmkit.ids import new_id
from crmkit.telemetry import current_trace_headers


class Outbox:
    def __init__(self, source: str, table: sa.Table) -> None:
        self.source = source
        self.table = table
        # Set after a commit that wrote events, so an in-process relay wakes at once instead of polling.
        self.written = threading.Event()

    def add(self, session: Session, message: Message, *, tenant_id: str, subject: str) -> Envelope:
        return self.add_all(session, [(message, tenant_id, subject)])[0]

    def add_all(self, session: Session, events: Sequence[tuple[Message, str, str]]) -> list[Envelope]:
        """Write (message, tenant_id, subject) events in one INSERT, in the caller's transaction."""
        now = utcnow()
        headers = current_trace_headers()
        chain = causation.current()
        envelopes, rows = [], []
        for message, tenant_id, subject in events:
            envelope = Envelope(
                id=new_id(),
                type=message.DESCRIPTOR.full_name,
                source=self.source,
                tenant=tenant_id,
                subject=subject,
                traceparent=headers.get("traceparent", ""),
                tracestate=headers.get("tracestate", ""),
                data=message.SerializeToString(),
                causation_chain=chain,
            )
            envelope.time.FromDatetime(now)
            envelopes.append(envelope)
            rows.append(
                {
                    "id": envelope.id,
                    "tenant_id": tenant_id,
                    "event_type": envelope.type,
                    "subject": subject,
                    "payload": envelope.SerializeToString(),
                    "created_at": now,
                }
            )
        if rows:
            session.execute(sa.insert(self.table), rows)
        self.wake_on_commit(session)
        return envelopes

    def wake_on_commit(self, session: Session) -> None:
        """Wake the relay when this transaction commits (it wrote, or put back, unsent rows)."""
        if session.get_bind().dialect.name == "postgresql" and not session.info.get("crm_outbox_notified"):
            # Delivered on commit only: a relay in another process wakes for committed events alone.
            session.info["crm_outbox_notified"] = True
            session.execute(sa.select(sa.func.pg_notify(notify_channel(self.source), "")))
        if not session.info.get("crm_outbox_hooked"):
            session.info["crm_outbox_hooked"] = True
            sa_event.listen(session, "after_commit", lambda _s: self.written.set(), once=True)


def notify_channel(source: str) -> str:
    return f"crm_outbox_{source}"


def decode_payload(envelope: Envelope, message_type: type[Message]) -> Message:
    message = message_type()
    message.ParseFromString(envelope.data)
    return message
