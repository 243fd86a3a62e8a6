"""Events: commit -> consumer commit latency at a steady rate, and the highest sustained rate,
through outbox, relay (publisher confirms), RabbitMQ and an inbox consumer — versus raw pika
persistent publishing and consuming of the same payloads on the same broker."""

from __future__ import annotations

import multiprocessing
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
# The marketing service as `make up-distributed` and deploy/ run it: two replicas, each with one
# thread per consumer, competing for the consumer's queue.
CONSUMER_PROCESSES = 2
CONSUMER_THREADS = 1
WARMUP = 500  # events sent through before the latency run's clock starts
CONSUMER = "bench.events"


def _event(sequence: int) -> tuple[events_pb2.ContactCreated, str, str]:
    contact_id = new_id()
    contact = contacts_pb2.Contact(id=contact_id, given_name=f"Bench {sequence}", email=f"b{sequence}@example.com")
    contact.update_time.GetCurrentTime()
    return events_pb2.ContactCreated(contact=contact), "TBENCH", contact_id


def _consumer(marketing_url: str) -> tuple[EventConsumer, dict[str, float]]:
    """The inbox consumer, and the perf_counter() at which each event's consumer transaction committed.

    The stamping is one `after_commit` listener per transaction, not per event: registering a
    listener costs about 11 µs, which per event was measurement overhead counted as ours."""
    applied: dict[str, float] = {}

    def handler(session: Any, envelope: Any, _event: Any) -> None:
        ids = session.info.get("bench_event_ids")
        if ids is None:  # the transaction's first event (a session is one transaction here)
            ids = session.info["bench_event_ids"] = []

            def done(_session: Any) -> None:
                committed = time.perf_counter()
                for event_id in ids:
                    applied.setdefault(event_id, committed)

            sa_event.listen(session, "after_commit", done, once=True)
        ids.append(envelope.id)

    return EventConsumer(
        CONSUMER, Database(marketing_url), INBOX, [Handles(events_pb2.ContactCreated, handler)]
    ), applied


def _relay_process(contacts_url: str, amqp_url: str, prefix: str, ready: Any, go: Any, stop: Any) -> None:
    """The relay as its own process, as `crm run --target relay` runs it: woken by the outbox's
    NOTIFY, publisher confirms, batches of up to 500 with up to 4 in flight."""
    bus = RabbitBus(amqp_url, prefix, retry_delays_ms=(500,), prefetch=256)
    relay = OutboxRelay(Database(contacts_url), OUTBOX, bus.publisher(), source="contacts", batch_size=500)
    ready.set()
    go.wait()
    halt = threading.Event()
    threading.Thread(target=lambda: (stop.wait(), halt.set()), daemon=True).start()
    relay.run(halt)


def _consumer_process(
    marketing_url: str, amqp_url: str, prefix: str, ready: Any, go: Any, stop: Any, count: Any, results: Any
) -> None:
    """One replica of the marketing service's consumer, CONSUMER_THREADS threads as the service runs
    them: inbox, the deliveries waiting (up to 64) in one transaction. Adds what it applied to the
    shared `count` as it goes, and sends {event id: commit time} when stopped."""
    bus = RabbitBus(amqp_url, prefix, retry_delays_ms=(500,), prefetch=256)
    consumer, applied = _consumer(marketing_url)
    ready.set()
    go.wait()
    halt = threading.Event()
    lock = threading.Lock()
    counted = [0]

    def handle_batch(deliveries: Any) -> Any:
        outcomes = consumer.handle_batch(deliveries)
        with lock, count.get_lock():  # the count of every consumer process together
            count.value += len(applied) - counted[0]
            counted[0] = len(applied)
        return outcomes

    threads = [
        threading.Thread(target=bus.consume, args=(consumer.subscription, handle_batch, halt))
        for _ in range(CONSUMER_THREADS)
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    halt.set()
    for thread in threads:
        thread.join(30)
    results.put(dict(applied))


class Pipeline:
    """The producer here, the relay and CONSUMER_PROCESSES consumer replicas each in a process of
    its own (as deployed: the contacts service, `--target relay`, the marketing service's replicas),
    over the real outbox, broker and inbox; records commit -> commit time. Time stamps are
    time.perf_counter(), CLOCK_MONOTONIC on Linux: one clock for every process on the machine."""

    def __init__(self, contacts: Database, marketing_url: str, amqp_url: str, prefix: str) -> None:
        self.contacts = contacts
        self.outbox = Outbox("contacts", OUTBOX)
        bus = RabbitBus(amqp_url, prefix, retry_delays_ms=(500,))
        declared, _ = _consumer(marketing_url)
        bus.declare(declared.subscription)  # before the first publish, or it is unroutable
        declared.database.dispose()
        self.committed: dict[str, float] = {}
        self.applied: dict[str, float] = {}
        context = multiprocessing.get_context("spawn")
        self.go, self.stop = context.Event(), context.Event()
        self.count = context.Value("i", 0)
        self.results = context.Queue()
        ready = [context.Event() for _ in range(1 + CONSUMER_PROCESSES)]
        self.processes = [
            context.Process(
                target=_relay_process, args=(self.contacts_url, amqp_url, prefix, ready[0], self.go, self.stop)
            )
        ]
        self.processes += [
            context.Process(
                target=_consumer_process,
                args=(marketing_url, amqp_url, prefix, started, self.go, self.stop, self.count, self.results),
            )
            for started in ready[1:]
        ]
        for process in self.processes:
            process.start()
        deadline = time.monotonic() + 120
        while not all(event.is_set() for event in ready):
            if time.monotonic() > deadline or not all(process.is_alive() for process in self.processes):
                self.close()
                raise RuntimeError("the relay or consumer process did not start")
            time.sleep(0.05)

    @property
    def contacts_url(self) -> str:
        return self.contacts.engine.url.render_as_string(hide_password=False)

    def commit(self, count: int, timed: bool = True) -> None:
        events = [_event(n) for n in range(count)]
        with self.contacts.transaction() as session:
            envelopes = self.outbox.add_all(session, events)
        stamp = time.perf_counter()  # the producer's commit has returned: the clock starts
        if timed:
            self.committed.update((e.id, stamp) for e in envelopes)

    @property
    def latencies(self) -> list[float]:
        """Producer's commit -> consumer's commit, per event applied."""
        return [self.applied[i] - self.committed[i] for i in self.applied if i in self.committed]

    def start(self) -> None:
        self.go.set()

    def wait_for(self, count: int, timeout: float) -> float:
        started = time.perf_counter()
        while self.count.value < count and time.perf_counter() - started < timeout:
            time.sleep(0.005)
        return time.perf_counter() - started

    def close(self) -> None:
        self.go.set()
        self.stop.set()
        try:
            for process in self.processes[1:]:
                if process.is_alive():
                    self.applied.update(self.results.get(timeout=60))
        finally:
            for process in self.processes:
                process.join(30)
                if process.is_alive():
                    process.kill()


class _RawPublisher:
    """Raw pika persistent publishing with publisher confirms, the way a careful pika client does it:
    on the asynchronous connection, with confirms counted as they come instead of one round trip
    per message. Either at `rate` per second (ten at a time, as the producer commits), or as fast
    as `window` unconfirmed messages allow."""

    def __init__(self, amqp_url: str, queue: str, bodies: list[bytes], rate: float | None, window: int = 500) -> None:
        self.bodies, self.queue, self.rate, self.window = bodies, queue, rate, window
        self.sent: dict[int, float] = {}
        self.unconfirmed: set[int] = set()
        self.next = 0
        self.started = self.finished = 0.0
        self.channel: Any = None
        self.connection = pika.SelectConnection(
            pika.URLParameters(amqp_url),
            on_open_callback=lambda c: c.channel(on_open_callback=self._on_channel),
            on_close_callback=lambda c, _reason: c.ioloop.stop(),
        )
        self.properties = [
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=str(n))
            for n in range(len(bodies))
        ]

    def run(self) -> float:
        """Publish everything; returns the seconds until the last confirm."""
        self.connection.ioloop.start()
        if self.unconfirmed or self.next < len(self.bodies):
            raise RuntimeError("raw publishing stopped before every message was confirmed")
        return self.finished - self.started

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._begin())

    def _begin(self) -> None:
        self.started = time.perf_counter()
        self._publish()

    def _publish(self) -> None:
        if self.rate is None:
            last = min(len(self.bodies), self.next + self.window - len(self.unconfirmed))
        else:
            last = min(len(self.bodies), self.next + 10)
        for n in range(self.next, last):
            self.sent[n] = time.perf_counter()
            self.channel.basic_publish("", self.queue, self.bodies[n], self.properties[n])
            self.unconfirmed.add(n + 1)  # delivery tags count from 1
        self.next = last
        if self.rate is not None and self.next < len(self.bodies):
            pause = self.started + self.next / self.rate - time.perf_counter()
            self.connection.ioloop.call_later(max(0.0, pause), self._publish)

    def _on_confirm(self, frame: Any) -> None:
        tag = frame.method.delivery_tag
        if not isinstance(frame.method, pika.spec.Basic.Ack):
            raise RuntimeError("the broker refused a raw message")
        self.unconfirmed -= {t for t in self.unconfirmed if t <= tag} if frame.method.multiple else {tag}
        if self.next == len(self.bodies) and not self.unconfirmed:
            self.finished = time.perf_counter()
            self.connection.close()
        elif self.rate is None:
            self._publish()


def _declare(amqp_url: str, queue: str) -> None:
    setup = pika.BlockingConnection(pika.URLParameters(amqp_url))
    setup.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    setup.close()


def _raw_consume(amqp_url: str, queue: str, count: int, received: dict[int, float]) -> float:
    """Consume with manual acks (prefetch 256) until `count` arrived; returns the seconds taken from
    the first delivery on."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    started = 0.0
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=256)
        for method, properties, _body in channel.consume(queue, inactivity_timeout=10):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            received[int(properties.message_id)] = time.perf_counter()
            started = started or received[int(properties.message_id)]
            if len(received) == count:
                break
        channel.cancel()
        channel.queue_delete(queue)
    finally:
        connection.close()
    return time.perf_counter() - started


def _raw_throughput(amqp_url: str, queue: str, bodies: list[bytes]) -> dict[str, Any]:
    """Persistent publishing with confirms in flight, then consuming with manual acks, on a quorum
    queue; plus publishing with a blocking confirm per message on a sample, the naive way (for
    comparison with earlier reports)."""
    _declare(amqp_url, queue)
    publish_seconds = _RawPublisher(amqp_url, queue, bodies, rate=None).run()
    received: dict[int, float] = {}
    consume_seconds = _raw_consume(amqp_url, queue, len(bodies), received)
    sample = bodies[:1000]
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.queue_declare(f"{queue}.each", durable=True, arguments={"x-queue-type": "quorum"})
        channel.confirm_delivery()
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        started = time.perf_counter()
        for body in sample:
            channel.basic_publish("", f"{queue}.each", body, properties)
        each_seconds = time.perf_counter() - started
        channel.queue_delete(f"{queue}.each")
    finally:
        connection.close()
    return {
        "published_per_second": round(len(bodies) / publish_seconds, 1),
        "consumed_per_second": round(len(received) / consume_seconds, 1) if consume_seconds else 0.0,
        "published_per_second_confirming_each": round(len(sample) / each_seconds, 1),
    }


def _raw_latency(amqp_url: str, queue: str, bodies: list[bytes]) -> dict[str, Any]:
    """Raw pika at the same steady rate: publish (confirms in flight) -> consumer ack, one connection each."""
    _declare(amqp_url, queue)
    received: dict[int, float] = {}
    consumer = threading.Thread(target=_raw_consume, args=(amqp_url, queue, len(bodies), received))
    consumer.start()
    publisher = _RawPublisher(amqp_url, queue, bodies, rate=RATE)
    publisher.run()
    consumer.join(60)
    latencies = [received[n] - publisher.sent[n] for n in received]
    return figures(latencies, max(received.values(), default=publisher.started) - publisher.started).as_dict()


def run(size: int, contacts_url: str, marketing_url: str, amqp_url: str) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    contacts = Database(contacts_url)
    steady_count = max(200, size)
    backlog = max(1000, size * 10)  # 20,000 at the default size: seconds of draining, not a burst
    try:
        # 1. Latency at a steady RATE, committed ten at a time, once a warm-up at the same rate has
        #    gone through (connections opened, statements compiled): the steady state is measured.
        pipeline = Pipeline(contacts, marketing_url, amqp_url, prefix)
        pipeline.start()
        for _ in range(WARMUP // 10):
            pipeline.commit(10, timed=False)
            time.sleep(10 / RATE)
        pipeline.wait_for(WARMUP, timeout=60)
        started = time.perf_counter()
        for tick in range(steady_count // 10):
            pipeline.commit(10)
            pause = started + (tick + 1) * 10 / RATE - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        produced = time.perf_counter() - started
        pipeline.wait_for(WARMUP + steady_count, timeout=120)  # the consumer counts the warm-up too
        seconds = time.perf_counter() - started
        pipeline.close()
        steady = figures(pipeline.latencies, seconds).as_dict()
        steady["produced_per_second"] = round(steady_count / produced, 1)
        # 2. The highest sustained rate: a backlog committed first, then drained end to end.
        pipeline = Pipeline(contacts, marketing_url, amqp_url, prefix)
        for start in range(0, backlog, 2000):
            pipeline.commit(min(2000, backlog - start))
        pipeline.start()
        seconds = pipeline.wait_for(backlog, timeout=300)
        drained = pipeline.count.value
        pipeline.close()
        if drained < backlog:
            raise RuntimeError(f"only {drained} of {backlog} events arrived within 300 s")
        sustained = round(drained / seconds, 1)
        # 3. Raw pika with the very same payloads.
        with contacts.transaction() as session:
            bodies = [bytes(row[0]) for row in session.execute(sa.select(OUTBOX.c.payload).limit(backlog))]
        raw = _raw_throughput(amqp_url, f"{prefix}.raw", bodies)
        raw_steady = _raw_latency(amqp_url, f"{prefix}.raw-latency", bodies[:steady_count])
    finally:
        delete_amqp_prefix(amqp_url, prefix, [CONSUMER], retry_tiers=1)
        contacts.dispose()
    return {
        "scenario": "events",
        "setup": f"ContactCreated events; a producer committing 10 at a time, a relay process (woken by the "
        "outbox's NOTIFY; publisher confirms; batches of up to 500, up to 4 in flight) and "
        f"{CONSUMER_PROCESSES} consumer replica processes of {CONSUMER_THREADS} consumer thread(s) each "
        "(inbox; the deliveries waiting, up to 64, in one transaction), as deployed; no trace exporter is "
        "configured, so spans are OpenTelemetry's no-ops. "
        f"Steady: {steady_count} at {RATE}/s after {WARMUP} at that rate to warm up, from the producer's "
        "commit returning to the consumer's commit. "
        f"Sustained: a backlog of {backlog} drained end to end. Raw pika, same payloads and broker, "
        "persistent, quorum queue, confirms in flight (at most 500; steady at the same rate, ten at a time), "
        "consumer acking each; and confirming each message before the next, on 1000 of them, as earlier "
        "reports measured it",
        "ours": {"steady_latency": steady, "sustained_per_second": sustained},
        "baselines": {"raw_pika": {**raw, "steady_latency": raw_steady}},
        "ratios": {
            "sustained_vs_raw_persistent_publishing": ratio(sustained, raw["published_per_second"]),
            "sustained_vs_raw_publishing_confirming_each": ratio(
                sustained, raw["published_per_second_confirming_each"]
            ),
            "p99_vs_raw_p99": ratio(steady["p99_ms"], raw_steady["p99_ms"]),
        },
        "goals": {
            f"p99 < 50 ms at {RATE} events/s": steady["p99_ms"] < 50,
            "sustained >= 1/3 of raw persistent publishing": sustained >= raw["published_per_second"] / 3,
        },
    }
