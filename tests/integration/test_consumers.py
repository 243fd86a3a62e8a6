"""Consumers over the real broker: redeliveries change nothing, failures retry, poison is parked."""

import datetime as dt

import pytest
import sqlalchemy as sa
from crm.contacts.v1 import events_pb2
from prometheus_client import REGISTRY

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
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
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
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
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
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
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


def member(envelope, event, name: str) -> AudienceMemberRow:
    return AudienceMemberRow(
        tenant_id=envelope.tenant,
        contact_id=event.contact.id,
        email="",
        given_name=name,
        family_name="",
        lifecycle_stage="",
        tags=[],
        source_update_time=event.contact.update_time.ToDatetime(tzinfo=dt.UTC),
        deleted=False,
    )


def test_waiting_deliveries_are_applied_in_one_transaction_each_exactly_once(migrated, bus):
    database = migrated("marketing")
    sessions: list[int] = []

    def apply(session, envelope, event):
        sessions.append(id(session))
        session.add(member(envelope, event, event.contact.given_name))

    consumer = EventConsumer("test.batched", database, INBOX, [Handles(events_pb2.ContactCreated, apply)])
    bus.declare(consumer.subscription)
    events = [contact_created("T1", f"B{n}", f"Name{n}") for n in range(6)]
    publisher = bus.publisher()
    publisher.publish([*events, events[0]])  # waiting before the consumer starts; one comes twice
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
    try:
        wait_until(lambda: inbox_rows(database, "test.batched") == 6, what="every event")
        wait_until(lambda: bus.stats("test.batched").ready == 0, what="every delivery acked")
    finally:
        running.close()
        publisher.close()
    assert len(set(sessions)) < len(sessions), "several events shared one transaction"
    assert [member_name(database, "T1", f"B{n}") for n in range(6)] == [f"Name{n}" for n in range(6)]


def test_a_poison_event_in_a_batch_fails_alone_and_its_neighbours_go_through(migrated, bus):
    database = migrated("marketing")
    applied: list[str] = []

    def apply(session, envelope, event):
        if event.contact.id == "P3":
            raise ValueError("poison")
        session.add(member(envelope, event, event.contact.given_name))
        applied.append(event.contact.id)

    consumer = EventConsumer(
        "test.poisoned-batch", database, INBOX, [Handles(events_pb2.ContactCreated, apply)], max_attempts=2
    )
    bus.declare(consumer.subscription)
    events = [contact_created("T1", f"P{n}", f"Name{n}") for n in range(6)]
    publisher = bus.publisher()
    publisher.publish(events)
    split_before = REGISTRY.get_sample_value("crm_event_batches_split_total", {"consumer": consumer.name}) or 0.0
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
    try:
        wait_until(lambda: bus.dead_letters("test.poisoned-batch"), what="the poison parked")
        wait_until(lambda: inbox_rows(database, "test.poisoned-batch") == 5, what="the neighbours")
    finally:
        running.close()
        publisher.close()
    split_after = REGISTRY.get_sample_value("crm_event_batches_split_total", {"consumer": consumer.name}) or 0.0
    assert split_after > split_before, "the batch failed together, then went one by one"
    [letter] = bus.dead_letters("test.poisoned-batch")
    assert letter.message_id == events[3].message_id and "ValueError: poison" in letter.error
    names = [member_name(database, "T1", f"P{n}") for n in range(6)]
    assert names == ["Name0", "Name1", "Name2", None, "Name4", "Name5"]
    assert consumed("test.poisoned-batch", "processed") >= 5
