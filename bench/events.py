"""Events: commit -> consumer commit latency at a steady rate, and the highest sustained rate,
through outbox, relay (publisher confirms), RabbitMQ and an inbox consumer — versus raw pika
persistent publishing and consuming of the same payloads on the same broker."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pika
import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, events_pb2
from sqlalchemy import event as sa_event

from bench.measure import figures, ratio
from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.ids import new_id
from services.contacts.store import OUTBOX
from services.marketing.store import INBOX
from tests.infra import delete_amqp_prefix

RATE = 1000  # events per second for the latency runs
CONSUMER = "bench.events"


def _event(sequence: int) -> tuple[events_pb2.ContactCreated, str, str]:
    contact_id = new_id()
    contact = contacts_pb2.Contact(id=contact_id, given_name=f"Bench {sequence}", email=f"b{sequence}@example.com")
    contact.update_time.GetCurrentTime()
    return events_pb2.ContactCreated(contact=contact), "TBENCH", contact_id


class Pipeline:
    """Relay and consumer threads over the real outbox, broker and inbox; records commit -> commit time."""

    def __init__(self, contacts: Database, marketing: Database, amqp_url: str, prefix: str) -> None:
        self.contacts = contacts
        self.bus = RabbitBus(amqp_url, prefix, retry_delays_ms=(500,), prefetch=256)
        self.outbox = Outbox("contacts", OUTBOX)
        self.written: dict[str, float] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()

        def handler(session: Any, envelope: Any, _event: Any) -> None:
            def done(_session: Any) -> None:
                with self.lock:
                    self.latencies.append(time.perf_counter() - self.written[envelope.id])

            sa_event.listen(session, "after_commit", done, once=True)

        self.consumer = EventConsumer(CONSUMER, marketing, INBOX, [Handles(events_pb2.ContactCreated, handler)])
        self.bus.declare(self.consumer.subscription)
        self.stop = threading.Event()
        relay = OutboxRelay(
            contacts,
            OUTBOX,
            self.bus.publisher(),
            source="contacts",
            batch_size=500,
            poll_seconds=0.01,
            wakeup=self.outbox.written,
        )
        subscription = self.consumer.subscription
        self.threads = [threading.Thread(target=relay.run, args=(self.stop,))]
        self.threads += [
            threading.Thread(target=self.bus.consume, args=(subscription, self.consumer.handle_batch, self.stop))
            for _ in range(2)
        ]

    def commit(self, count: int) -> None:
        events = [_event(n) for n in range(count)]
        with self.lock:  # stamped before the commit, so a fast consumer never misses its start time
            stamp = time.perf_counter()
        with self.contacts.transaction() as session:
            envelopes = self.outbox.add_all(session, events)
            with self.lock:
                self.written.update((e.id, stamp) for e in envelopes)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_for(self, count: int, timeout: float) -> float:
        started = time.perf_counter()
        while len(self.latencies) < count and time.perf_counter() - started < timeout:
            time.sleep(0.01)
        return time.perf_counter() - started

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _raw_throughput(amqp_url: str, queue: str, bodies: list[bytes]) -> dict[str, Any]:
    """Persistent publishing with confirms, then consuming with manual acks, on a quorum queue."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.confirm_delivery()
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        started = time.perf_counter()
        for body in bodies:
            channel.basic_publish("", queue, body, properties)
        publish_seconds = time.perf_counter() - started
        channel.basic_qos(prefetch_count=256)
        received = 0
        started = time.perf_counter()
        for method, _properties, _body in channel.consume(queue, inactivity_timeout=5):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            received += 1
            if received == len(bodies):
                break
        consume_seconds = time.perf_counter() - started
        channel.cancel()
        channel.queue_delete(queue)
    finally:
        connection.close()
    return {
        "published_per_second": round(len(bodies) / publish_seconds, 1),
        "consumed_per_second": round(received / consume_seconds, 1) if consume_seconds else 0.0,
    }


def _raw_latency(amqp_url: str, queue: str, bodies: list[bytes]) -> dict[str, Any]:
    """Raw pika at the same steady rate: confirmed publish -> consumer ack, one connection each."""
    setup = pika.BlockingConnection(pika.URLParameters(amqp_url))
    setup.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    setup.close()
    sent: dict[int, float] = {}
    latencies: list[float] = []

    def consume() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=256)
        for method, properties, _body in channel.consume(queue, inactivity_timeout=10):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            latencies.append(time.perf_counter() - sent[int(properties.message_id)])
            if len(latencies) == len(bodies):
                break
        channel.cancel()
        channel.queue_delete(queue)
        connection.close()

    consumer = threading.Thread(target=consume)
    consumer.start()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    started = time.perf_counter()
    for n, body in enumerate(bodies):
        sent[n] = time.perf_counter()
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=str(n))
        channel.basic_publish("", queue, body, properties)
        pause = started + (n + 1) / RATE - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    consumer.join(60)
    connection.close()
    return figures(latencies, time.perf_counter() - started).as_dict()


def run(size: int, contacts_url: str, marketing_url: str, amqp_url: str) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    contacts, marketing = Database(contacts_url), Database(marketing_url)
    steady_count = max(200, size)
    backlog = max(1000, size * 2)
    try:
        # 1. Latency at a steady RATE, committed ten at a time.
        pipeline = Pipeline(contacts, marketing, amqp_url, prefix)
        pipeline.start()
        started = time.perf_counter()
        for tick in range(steady_count // 10):
            pipeline.commit(10)
            pause = started + (tick + 1) * 10 / RATE - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        pipeline.wait_for(steady_count, timeout=120)
        steady = figures(list(pipeline.latencies), time.perf_counter() - started).as_dict()
        pipeline.close()
        # 2. The highest sustained rate: a backlog committed first, then drained end to end.
        pipeline = Pipeline(contacts, marketing, amqp_url, prefix)
        for start in range(0, backlog, 2000):
            pipeline.commit(min(2000, backlog - start))
        pipeline.start()
        seconds = pipeline.wait_for(backlog, timeout=300)
        sustained = round(len(pipeline.latencies) / seconds, 1)
        pipeline.close()
        # 3. Raw pika with the very same payloads.
        with contacts.transaction() as session:
            bodies = [bytes(row[0]) for row in session.execute(sa.select(OUTBOX.c.payload).limit(backlog))]
        raw = _raw_throughput(amqp_url, f"{prefix}.raw", bodies)
        raw_steady = _raw_latency(amqp_url, f"{prefix}.raw-latency", bodies[:steady_count])
    finally:
        delete_amqp_prefix(amqp_url, prefix, [CONSUMER], retry_tiers=1)
        contacts.dispose()
        marketing.dispose()
    return {
        "scenario": "events",
        "setup": f"ContactCreated events; {steady_count} at a steady {RATE}/s, then a backlog of {backlog} drained by "
        "one relay (publisher confirms, batches of 500) and two consumer threads (inbox; the deliveries waiting, "
        "up to 64, in one transaction)",
        "ours": {"steady_latency": steady, "sustained_per_second": sustained},
        "baselines": {"raw_pika": {**raw, "steady_latency": raw_steady}},
        "ratios": {
            "sustained_vs_raw_persistent_publishing": ratio(sustained, raw["published_per_second"]),
            "p99_vs_raw_p99": ratio(steady["p99_ms"], raw_steady["p99_ms"]),
        },
        "goals": {
            f"p99 < 50 ms at {RATE} events/s": steady["p99_ms"] < 50,
            "sustained >= 1/3 of raw persistent publishing": sustained >= raw["published_per_second"] / 3,
        },
    }
