"""The outbox relay publishes exactly the committed events, once, with publisher confirms."""

import threading
import time

import pytest
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope

from crmkit.db import utcnow
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.events.transport import Subscription
from services.contacts import events
from services.contacts.domain import ContactFields, new_contact
from services.contacts.store import OUTBOX
from tests.integration.events_support import drain

SINK = Subscription("test.consumer", ("#",))


def add_events(database, outbox: Outbox, count: int) -> list[str]:
    ids = []
    with database.transaction() as session:
        for n in range(count):
            contact = new_contact(f"C{n:05d}", "T1", ContactFields(given_name=f"N{n}"), utcnow())
            ids.append(outbox.add(session, events.contact_created(contact), tenant_id="T1", subject=contact.id).id)
    return ids


def unsent(database) -> int:
    with database.transaction() as session:
        return session.execute(sa.select(sa.func.count()).where(OUTBOX.c.sent_at.is_(None))).scalar_one()


@pytest.fixture
def bus(amqp_url, amqp_prefix):
    bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50,))
    bus.declare(SINK)
    return bus


def test_only_committed_events_are_published(migrated, bus):
    database = migrated("contacts")
    outbox = Outbox("contacts", OUTBOX)
    with pytest.raises(RuntimeError), database.transaction() as session:
        outbox.add(session, events.contact_deleted("GONE"), tenant_id="T1", subject="GONE")
        raise RuntimeError("the business change failed")
    [committed] = add_events(database, outbox, 1)
    relay = OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts")
    assert relay.publish_batch() == 1
    assert relay.publish_batch() == 0
    received = [Envelope.FromString(body) for _, body in drain(bus, SINK.consumer)]
    assert [e.id for e in received] == [committed]
    assert received[0].type == "crm.contacts.v1.ContactCreated" and received[0].tenant == "T1"
    assert unsent(database) == 0


def test_two_relays_side_by_side_never_send_a_row_twice(migrated, bus):
    database = migrated("contacts")
    ids = add_events(database, Outbox("contacts", OUTBOX), 400)
    relays = [OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts", batch_size=25) for _ in range(2)]
    sent = [0, 0]

    def drain_outbox(index: int) -> None:
        while (n := relays[index].publish_batch()) > 0:
            sent[index] += n

    threads = [threading.Thread(target=drain_outbox, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    received = [properties.message_id for properties, _ in drain(bus, SINK.consumer)]
    assert sorted(received) == sorted(ids), "every committed event arrives exactly once"
    assert sum(sent) == 400


def test_rows_stay_in_the_outbox_while_the_broker_is_unreachable(migrated, bus, amqp_prefix):
    database = migrated("contacts")
    add_events(database, Outbox("contacts", OUTBOX), 3)
    dead_broker = RabbitBus("amqp://guest:guest@127.0.0.1:1/%2F", amqp_prefix)
    with pytest.raises(Exception):  # noqa: B017 - any connection error will do; what matters is below
        OutboxRelay(database, OUTBOX, dead_broker.publisher(), source="contacts").publish_batch()
    assert unsent(database) == 3
    assert OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts").publish_batch() == 3
    assert unsent(database) == 0
    assert len(drain(bus, SINK.consumer)) == 3


def commit_one_and_receive(database, bus) -> tuple[str, list[str]]:
    """Commit one event, then what the sink queue received within 20 s (message ids)."""
    [committed] = add_events(database, Outbox("contacts", OUTBOX), 1)
    deadline = time.monotonic() + 20
    received: list[str] = []
    while not received and time.monotonic() < deadline:
        received = [p.message_id for p, _ in drain(bus, SINK.consumer)]
        time.sleep(0.05)
    return committed, received


def test_a_relay_in_another_process_is_woken_by_the_commit_not_by_polling(migrated, bus):
    database = migrated("contacts")
    # Its own wakeup event, as in a separate relay process; it would poll only once a minute.
    relay = OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts", poll_seconds=60)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,))
    runner.start()
    try:
        time.sleep(2)  # let the relay settle into its minute-long wait, listening
        committed, received = commit_one_and_receive(database, bus)
    finally:
        stop.set()
        relay.wakeup.set()
        runner.join(10)
    assert received == [committed], "NOTIFY on commit woke the relay long before its next poll"


def test_an_idle_relay_that_listens_does_not_poll_but_still_relays_at_once(migrated, bus):
    database = migrated("contacts")
    relay = OutboxRelay(database, OUTBOX, bus.publisher(), source="contacts", poll_seconds=0.05)
    claims: list[str] = []

    def count_claims(_conn, _cursor, statement, *_args) -> None:
        if "FOR UPDATE SKIP LOCKED" in statement:
            claims.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count_claims)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,))
    runner.start()
    try:
        assert relay.listening.wait(10), "the relay listens for the outbox's NOTIFY"
        time.sleep(0.5)
        before = len(claims)
        time.sleep(2)
        idle_claims = len(claims) - before  # at 0.05 s without LISTEN: about 40
        committed, received = commit_one_and_receive(database, bus)
    finally:
        stop.set()
        relay.wakeup.set()
        runner.join(10)
    assert idle_claims <= 1, f"an idle, listening relay looked for rows {idle_claims} times in 2 s"
    assert received == [committed]
    assert unsent(database) == 0


def test_a_relay_with_batches_in_flight_sends_every_row_once_in_id_order(migrated, bus):
    database = migrated("contacts")
    ids = add_events(database, Outbox("contacts", OUTBOX), 600)
    publisher = bus.publisher()
    unsettled_at_send: list[int] = []
    confirmations = []
    send = publisher.send

    def counting_send(messages, notify=None):  # the real publisher, observed
        unsettled_at_send.append(sum(not c.done.is_set() for c in confirmations))
        confirmations.append(send(messages, notify))
        return confirmations[-1]

    publisher.send = counting_send
    relay = OutboxRelay(database, OUTBOX, publisher, source="contacts", batch_size=50, in_flight=4)
    stop = threading.Event()
    runner = threading.Thread(target=relay.run, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while unsent(database) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        runner.join(30)
    assert unsent(database) == 0
    received = [properties.message_id for properties, _ in drain(bus, SINK.consumer)]
    assert received == sorted(ids), "each row once, in id order, though batches overlapped"
    assert len(confirmations) == 12
    assert max(unsettled_at_send) >= 1, "a batch went out while an earlier one awaited its confirms"
