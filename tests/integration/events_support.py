"""Helpers for tests that drive the event machinery over the real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pika
from crm.contacts.v1 import contacts_pb2, events_pb2
from crm.events.v1.envelope_pb2 import Envelope
from prometheus_client import REGISTRY

from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.transport import OutgoingMessage
from crmkit.ids import new_id


def contact_created(tenant: str, contact_id: str, given_name: str, seconds: int = 0) -> OutgoingMessage:
    contact = contacts_pb2.Contact(id=contact_id, given_name=given_name, email=f"{given_name.lower()}@example.com")
    contact.update_time.FromSeconds(1_800_000_000 + seconds)
    envelope = Envelope(
        id=new_id(),
        type="crm.contacts.v1.ContactCreated",
        source="contacts",
        tenant=tenant,
        subject=contact_id,
        data=events_pb2.ContactCreated(contact=contact).SerializeToString(),
    )
    envelope.time.GetCurrentTime()
    return OutgoingMessage(envelope.id, envelope.type, envelope.SerializeToString())


def consumed(consumer: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("crm_events_consumed_total", {"consumer": consumer, "outcome": outcome}) or 0.0


def wait_until(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def drain(bus: RabbitBus, consumer: str) -> list[tuple[pika.BasicProperties, bytes]]:
    """Take every message waiting in a consumer's queue."""
    connection = bus.connect()
    taken = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(bus.queue_name(consumer), auto_ack=True)
            if method is None:
                return taken
            taken.append((properties, body))
    finally:
        connection.close()


class RunningConsumer:
    def __init__(self, bus: RabbitBus, subscription, handler) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=bus.consume, args=(subscription, handler, self.stop), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
