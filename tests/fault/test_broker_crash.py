"""Kill -9 the RabbitMQ broker while 20,000 events flow: every committed event is applied once."""

from __future__ import annotations

import threading

import pytest
from crm.contacts.v1 import events_pb2

from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from services.contacts.store import OUTBOX
from services.marketing.store import INBOX
from tests.e2e.support import wait_until
from tests.fault.ledger import APPLIED, Verdict, applied_counts, commit_events, record_application, wait_for_all
from tests.fault.servers import PrivateRabbitMQ
from tests.integration.events_support import consumed

EVENTS = 20_000


@pytest.fixture
def broker(tmp_path):
    broker = PrivateRabbitMQ(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def test_every_committed_event_is_applied_exactly_once_across_a_broker_crash(migrated, broker):
    contacts_db, marketing_db = migrated("contacts"), migrated("marketing")
    APPLIED.create(marketing_db.engine)
    committed = commit_events(contacts_db, EVENTS)
    bus = RabbitBus(broker.url, "fault", retry_delays_ms=(200, 500, 1000), prefetch=64)
    consumer = EventConsumer(
        "fault.applier", marketing_db, INBOX, [Handles(events_pb2.ContactCreated, record_application)], max_attempts=10
    )
    bus.declare(consumer.subscription)  # as `crm migrate` does: the queue exists before anything is published
    duplicates_before = consumed(consumer.name, "duplicate")
    stop = threading.Event()
    relay = OutboxRelay(contacts_db, OUTBOX, bus.publisher(), source="contacts", batch_size=500, poll_seconds=0.05)
    threads = [threading.Thread(target=relay.run, args=(stop,))]
    threads += [
        threading.Thread(target=bus.consume, args=(consumer.subscription, consumer.handle_batch, stop))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: applied_counts(marketing_db, committed)[1] >= EVENTS // 4, 120, "a quarter of the events")
        at_crash = applied_counts(marketing_db, committed)[1]
        broker.kill9()
        broker.start()
        seconds = wait_for_all(marketing_db, committed, timeout=240)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    applied, distinct = applied_counts(marketing_db, committed)
    verdict = Verdict(EVENTS, applied, distinct, consumed(consumer.name, "duplicate") - duplicates_before, seconds)
    verdict.report("broker kill -9 during 20,000 events")
    assert at_crash < EVENTS, "the broker died mid-stream"
    assert verdict.lost == 0
    assert verdict.duplicated == 0
