"""A killable process running the real relay or consumer code against the fault ledger.

python -m tests.fault.worker relay <contacts-db-url> <amqp-url> <prefix>
python -m tests.fault.worker consume <marketing-db-url> <amqp-url> <prefix>
"""

from __future__ import annotations

import sys
import threading

from crm.contacts.v1 import events_pb2

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.signals import stop_on_signals
from services.contacts.store import OUTBOX
from services.marketing.store import INBOX
from tests.fault.ledger import record_application

CONSUMER = "fault.applier"


def consumer(database: Database) -> EventConsumer:
    handles = [Handles(events_pb2.ContactCreated, record_application)]
    return EventConsumer(CONSUMER, database, INBOX, handles, max_attempts=10)


def main(role: str, database_url: str, amqp_url: str, prefix: str) -> None:
    database = Database(database_url)
    bus = RabbitBus(amqp_url, prefix, retry_delays_ms=(200, 500, 1000), prefetch=64)
    stop = threading.Event()
    stop_on_signals(stop)
    if role == "relay":
        OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts", batch_size=500, poll_seconds=0.05).run(stop)
    else:
        bus.consume(consumer(database).subscription, consumer(database).handle_batch, stop)


if __name__ == "__main__":
    main(*sys.argv[1:5])
