"""Consumers over the real broker: redeliveries change nothing, failures retry, poison is parked."""

import datetime as dt

import pytest
import sqlalchemy as sa
from crm.contacts.v1 import events_pb2

from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.rabbitmq import RabbitBus
from services.marketing import store
from services.marketing.events import contact_projection
from services.marketing.store import INBOX, AudienceMemberRow
from tests.integration.events_support import RunningConsumer, consumed, contact_created, wait_until


@pytest.fixture
def bus(amqp_url, amqp_prefix):
    return RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)


def inbox_rows(database, consumer: str) -> int:
    with database.transaction() as session:
        return session.execute(sa.select(sa.func.count()).where(INBOX.c.consumer == consumer)).scalar_one()


def member_name(database, tenant: str, contact_id: str) -> str | None:
    with database.transaction() as session:
        member = store.get(session, tenant, contact_id)
    return None if member is None else member.given_name


def test_a_redelivered_event_changes_nothing(migrated, bus):
    database = migrated("marketing")
    consumer = contact_projection(database)
    bus.declare(consumer.subscription)
    created = contact_created("T1", "C1", "Ada", seconds=0)
    renamed = contact_created("T1", "C1", "Augusta", seconds=10)
    publisher = bus.publisher()
    duplicates_before = consumed(consumer.name, "duplicate")
    running = RunningConsumer(bus, consumer.subscription, consumer.handle)
    try:
        publisher.publish([created])
        wait_until(lambda: member_name(database, "T1", "C1") == "Ada", what="the first delivery")
        publisher.publish([renamed, created])  # the old event comes again, after a newer one
        wait_until(lambda: consumed(consumer.name, "duplicate") > duplicates_before, what="the redelivery")
    finally:
        running.close()
        publisher.close()
    assert member_name(database, "T1", "C1") == "Augusta"
    assert inbox_rows(database, consumer.name) == 2


def test_a_failing_handler_is_retried_with_its_writes_rolled_back(migrated, bus):
    database = migrated("marketing")
    calls: list[int] = []

    def flaky(session, envelope, event):
        session.add(
            AudienceMemberRow(
                tenant_id=envelope.tenant,
                contact_id=event.contact.id,
                email="",
                given_name=f"attempt-{len(calls)}",
                family_name="",
                lifecycle_stage="",
                tags=[],
                source_update_time=event.contact.update_time.ToDatetime(tzinfo=dt.UTC),
                deleted=False,
            )
        )
        session.flush()
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("downstream hiccup")

    consumer = EventConsumer("test.flaky", database, INBOX, [Handles(events_pb2.ContactCreated, flaky)])
    bus.declare(consumer.subscription)
    running = RunningConsumer(bus, consumer.subscription, consumer.handle)
    publisher = bus.publisher()
    try:
        publisher.publish([contact_created("T1", "C9", "Ada")])
        wait_until(lambda: len(calls) == 3 and inbox_rows(database, "test.flaky") == 1, what="the third attempt")
    finally:
        running.close()
        publisher.close()
    assert member_name(database, "T1", "C9") == "attempt-2", "the failed attempts left nothing behind"
    assert consumed("test.flaky", "retry") >= 2


def test_a_poison_event_is_dead_lettered_and_can_be_replayed(migrated, bus):
    database = migrated("marketing")
    healthy = {"now": False}
    handled: list[str] = []

    def handler(session, envelope, event):
        if not healthy["now"]:
            raise ValueError("cannot handle this yet")
        handled.append(envelope.id)

    consumer = EventConsumer(
        "test.poison", database, INBOX, [Handles(events_pb2.ContactCreated, handler)], max_attempts=3
    )
    bus.declare(consumer.subscription)
    running = RunningConsumer(bus, consumer.subscription, consumer.handle)
    publisher = bus.publisher()
    poison = contact_created("T1", "C7", "Ada")
    try:
        publisher.publish([poison])
        wait_until(lambda: bus.dead_letters("test.poison"), what="the dead letter")
        [letter] = bus.dead_letters("test.poison")
        assert letter.message_id == poison.message_id
        assert "ValueError: cannot handle this yet" in letter.error
        assert handled == [] and inbox_rows(database, "test.poison") == 0
        healthy["now"] = True
        assert bus.replay_dead_letters("test.poison") == 1
        wait_until(lambda: handled == [poison.message_id], what="the replayed event")
    finally:
        running.close()
        publisher.close()
    assert bus.dead_letters("test.poison") == []
