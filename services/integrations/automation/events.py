"""The automation consumer: public events become executions of the rules they match."""

from __future__ import annotations

from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.events.consumer import EventConsumer, Handles
from services.integrations.automation.usecases import AutomationWorker, plan_executions
from services.integrations.store import INBOX
from services.integrations.webhooks import catalog

CONSUMER = "integrations.automation"


def automation_triggers(database: Database, worker: AutomationWorker, max_depth: int) -> EventConsumer:
    def handle(session: Session, envelope: Envelope, message: Message) -> None:
        if plan_executions(session, envelope, message, utcnow(), max_depth):
            worker.notify_on_commit(session)

    # The same catalogue partners' webhooks see: a rule triggers on what a subscription could receive.
    return EventConsumer(CONSUMER, database, INBOX, [Handles(kind, handle) for kind in catalog.MAPPERS])
