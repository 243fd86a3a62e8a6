"""The webhook fan-out consumer: public events become one delivery per matching subscription."""

from __future__ import annotations

from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.events.consumer import EventConsumer, Handles
from services.integrations.store import INBOX
from services.integrations.webhooks import catalog
from services.integrations.webhooks.usecases import DeliveryWorker, fan_out

CONSUMER = "integrations.webhooks"


def webhook_fan_out(database: Database, worker: DeliveryWorker) -> EventConsumer:
    def handle(session: Session, envelope: Envelope, message: Message) -> None:
        if fan_out(session, envelope, message, utcnow()):
            worker.notify_on_commit(session)

    return EventConsumer(CONSUMER, database, INBOX, [Handles(kind, handle) for kind in catalog.MAPPERS])
