"""The RabbitMQ transport (pika): a topic exchange, one quorum queue per consumer, tiered retry
queues that dead-letter back after their TTL, and a dead-letter queue per consumer.

    <prefix>.events            topic exchange; routing key = event type
    <prefix>.<consumer>        quorum queue bound to the consumer's event types
    <prefix>.<consumer>.retry.N  holds a failed delivery for retry_delays_ms[N], then back to the queue
    <prefix>.<consumer>.dlq    where deliveries go when retries are exhausted (`crm dlq`)

pika connections are not thread-safe: every publisher and every consumer owns its connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
from crm.events.v1.envelope_pb2 import Envelope
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError

from crmkit.events.transport import (
    BatchHandler,
    Confirmation,
    DeadLetter,
    Delivery,
    Outcome,
    OutgoingMessage,
    QueueStats,
    Subscription,
    Verdict,
)

log = logging.getLogger(__name__)
ATTEMPT_HEADER = "x-crm-attempt"
ERROR_HEADER = "x-crm-error"
CONTENT_TYPE = "application/x-protobuf"


class RabbitBus:
    def __init__(
        self,
        url: str,
        prefix: str = "crm",
        retry_delays_ms: Sequence[int] = (1000, 5000, 30000),
        prefetch: int = 128,
        batch_size: int = 64,
    ) -> None:
        self.parameters = pika.URLParameters(url)
        self.parameters.blocked_connection_timeout = 30
        self.parameters.connection_attempts = 1
        self.prefix = prefix
        self.exchange = f"{prefix}.events"
        self.retry_delays_ms = list(retry_delays_ms)
        self.prefetch = prefetch
        # A batch never waits for more deliveries: it is what arrived while the last one was handled.
        self.batch_size = max(1, min(batch_size, prefetch))

    def queue_name(self, consumer: str) -> str:
        return f"{self.prefix}.{consumer}"

    def connect(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(self.parameters)

    def publisher(self) -> RabbitPublisher:
        return RabbitPublisher(self)

    def declare(self, subscription: Subscription) -> None:
        connection = self.connect()
        try:
            self._declare_on(connection.channel(), subscription)
        finally:
            _close_quietly(connection)

    def _declare_on(self, channel: BlockingChannel, subscription: Subscription) -> str:
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        name = self.queue_name(subscription.consumer)
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
        for binding in subscription.bindings:
            channel.queue_bind(name, self.exchange, routing_key=binding)
        for index, delay in enumerate(self.retry_delays_ms):
            channel.queue_declare(
                f"{name}.retry.{index}",
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                },
            )
        channel.queue_declare(f"{name}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
        return name

    def consume(self, subscription: Subscription, handler: BatchHandler, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                self._consume_until(subscription, handler, stop)
                backoff = 0.5
            except (AMQPError, OSError) as exc:
                log.warning(
                    "consumer %s lost the broker (%s); reconnecting in %.1fs",
                    subscription.consumer,
                    type(exc).__name__,
                    backoff,
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _consume_until(self, subscription: Subscription, handler: BatchHandler, stop: threading.Event) -> None:
        connection = self.connect()
        try:
            channel = connection.channel()
            name = self._declare_on(channel, subscription)
            republish = connection.channel()
            republish.confirm_delivery()
            channel.basic_qos(prefetch_count=self.prefetch)

            pending: list[tuple[int, pika.BasicProperties, bytes]] = []

            def on_message(_ch: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
                pending.append((method.delivery_tag, properties, body))

            channel.basic_consume(name, on_message)
            while not stop.is_set():
                connection.process_data_events(time_limit=0.5)  # returns once deliveries arrived
                while pending and len(pending) < self.batch_size:  # and take what else is already here
                    before = len(pending)
                    connection.process_data_events(time_limit=0)
                    if len(pending) == before:
                        break
                while pending:
                    batch, pending[:] = pending[: self.batch_size], pending[self.batch_size :]
                    self._settle(channel, republish, name, subscription.consumer, batch, handler)
        finally:
            _close_quietly(connection)

    def _settle(
        self,
        channel: BlockingChannel,
        republish: BlockingChannel,
        name: str,
        consumer: str,
        batch: list[tuple[int, pika.BasicProperties, bytes]],
        handler: BatchHandler,
    ) -> None:
        """Handle a batch, hand its failures to the retry tiers or the dead letters (confirmed), then
        ack the whole batch with one `multiple` ack: the deliveries are the channel's only unacked ones."""
        deliveries = [
            Delivery(body, int(dict(properties.headers or {}).get(ATTEMPT_HEADER, 0))) for _, properties, body in batch
        ]
        try:
            outcomes = handler(deliveries)
        except Exception as exc:  # a bug in the handler must not kill the connection loop
            log.exception("consumer %s handler crashed", consumer)
            outcomes = [Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}")] * len(batch)
        for (_, properties, body), delivery, outcome in zip(batch, deliveries, outcomes, strict=True):
            headers = dict(properties.headers or {})
            if outcome.verdict is Verdict.RETRY:
                tier = min(delivery.attempt, len(self.retry_delays_ms) - 1)
                headers[ATTEMPT_HEADER] = delivery.attempt + 1
                republish.basic_publish("", f"{name}.retry.{tier}", body, _properties(properties, headers))
            elif outcome.verdict is Verdict.DEAD_LETTER:
                headers[ATTEMPT_HEADER] = delivery.attempt + 1
                headers[ERROR_HEADER] = outcome.error[:1000]
                republish.basic_publish("", f"{name}.dlq", body, _properties(properties, headers))
        # Only now, after the handler's commit (or the confirmed hand-over to retry/dlq).
        channel.basic_ack(batch[-1][0], multiple=True)

    def stats(self, consumer: str) -> QueueStats:
        connection = self.connect()
        try:
            channel = connection.channel()
            name = self.queue_name(consumer)
            ready = channel.queue_declare(name, passive=True).method.message_count
            dead = channel.queue_declare(f"{name}.dlq", passive=True).method.message_count
        finally:
            _close_quietly(connection)
        return QueueStats(ready, dead)

    def dead_letters(self, consumer: str, limit: int = 100) -> list[DeadLetter]:
        """Peek at dead letters: fetched without ack, so closing the channel returns them."""
        connection = self.connect()
        letters: list[DeadLetter] = []
        try:
            channel = connection.channel()
            for _ in range(limit):
                method, properties, body = channel.basic_get(f"{self.queue_name(consumer)}.dlq", auto_ack=False)
                if method is None:
                    break
                letters.append(_dead_letter(properties, body))
        finally:
            _close_quietly(connection)
        return letters

    def replay_dead_letters(self, consumer: str, limit: int | None = None) -> int:
        connection = self.connect()
        moved = 0
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            name = self.queue_name(consumer)
            while limit is None or moved < limit:
                method, properties, body = channel.basic_get(f"{name}.dlq", auto_ack=False)
                if method is None:
                    break
                headers = {
                    k: v for k, v in (properties.headers or {}).items() if k not in (ATTEMPT_HEADER, ERROR_HEADER)
                }
                channel.basic_publish("", name, body, _properties(properties, headers))
                channel.basic_ack(method.delivery_tag)
                moved += 1
        finally:
            _close_quietly(connection)
        return moved

    def close(self) -> None:
        pass


@dataclass
class _InFlight:
    """A published batch awaiting the broker's confirms."""

    confirmation: Confirmation
    unconfirmed: set[int] = field(default_factory=set)  # delivery tags
    refused: int = 0


class RabbitPublisher:
    """Publishes batches with publisher confirms, awaited per batch, not per message.

    pika's blocking channel would wait for the broker's ack after every message: one network round
    trip (and, for a quorum queue, one replicated write) each. Instead pika's asynchronous
    connection runs in an I/O thread of its own; `send(batch)` hands it the batch and returns a
    Confirmation at once, so a relay can publish the next batch while the broker confirms this one
    (docs/adr/0081); `publish(batch)` sends and waits. A nack, a lost connection or a timeout fails
    the batch, so the relay keeps its rows and tries again.
    """

    def __init__(self, bus: RabbitBus, timeout_seconds: float = 30.0) -> None:
        self.bus = bus
        self.timeout = timeout_seconds
        self._lock = threading.Lock()
        self._connection: pika.SelectConnection | None = None
        self._channel: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure = ""
        # Touched only on the I/O thread, except while no loop runs (_open, _reset).
        self._next_tag = 0
        self._pending: list[_InFlight] = []  # in publishing order

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        confirmation = self.send(messages)
        try:
            confirmation.wait(self.timeout)
        except TimeoutError:
            self.close()  # the connection is stuck: the next batch opens a new one
            raise

    def send(self, messages: Sequence[OutgoingMessage], notify: threading.Event | None = None) -> Confirmation:
        confirmation = Confirmation(len(messages), notify)
        if not messages:
            confirmation.settle()
            return confirmation
        with self._lock:
            if self._connection is None or self._failure:
                self._reset()
                self._open()
            assert self._connection is not None
            self._connection.ioloop.add_callback_threadsafe(lambda: self._send(messages, confirmation))
        return confirmation

    def _send(self, messages: Sequence[OutgoingMessage], confirmation: Confirmation) -> None:
        if self._failure or self._channel is None:
            confirmation.fail(self._failure or "the channel is gone")
            return
        batch = _InFlight(confirmation)
        self._pending.append(batch)
        try:
            for message in messages:
                self._channel.basic_publish(
                    self.bus.exchange,
                    message.event_type,
                    message.body,
                    pika.BasicProperties(
                        message_id=message.message_id,
                        type=message.event_type,
                        content_type=CONTENT_TYPE,
                        delivery_mode=pika.DeliveryMode.Persistent,
                        headers=dict(message.headers) or None,
                    ),
                )
                self._next_tag += 1
                batch.unconfirmed.add(self._next_tag)
        except Exception as exc:
            self._fail(f"publishing failed: {type(exc).__name__}: {exc}")

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        refused = not isinstance(method, pika.spec.Basic.Ack)
        tag, settled = method.delivery_tag, []
        for batch in self._pending:  # in publishing order, so in tag order
            if batch.unconfirmed and min(batch.unconfirmed) > tag:
                break
            hit = {t for t in batch.unconfirmed if t <= tag} if method.multiple else batch.unconfirmed & {tag}
            batch.unconfirmed -= hit
            batch.refused += len(hit) if refused else 0
            if not batch.unconfirmed:
                settled.append(batch)
        for batch in settled:
            self._pending.remove(batch)
            batch.confirmation.settle(refused=batch.refused)

    def _fail(self, reason: str) -> None:
        self._failure = reason
        self._ready.set()
        pending, self._pending = self._pending, []
        for batch in pending:
            batch.confirmation.fail(reason)

    def _open(self) -> None:
        self._ready.clear()
        self._failure, self._next_tag, self._pending = "", 0, []

        def on_channel(channel: Any) -> None:
            channel.add_on_close_callback(lambda _c, reason: self._fail(f"channel closed: {reason}"))
            channel.confirm_delivery(self._on_confirm, callback=lambda _f: declare(channel))

        def declare(channel: Any) -> None:
            channel.exchange_declare(
                self.bus.exchange, exchange_type="topic", durable=True, callback=lambda _f: ready(channel)
            )

        def ready(channel: Any) -> None:
            self._channel = channel
            self._ready.set()

        def closed(connection: Any, reason: Any) -> None:
            self._fail(f"connection closed: {reason}")
            connection.ioloop.stop()

        def open_failed(connection: Any, error: Any) -> None:
            self._fail(f"cannot connect: {error}")
            connection.ioloop.stop()

        connection = pika.SelectConnection(
            self.bus.parameters,
            on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
            on_open_error_callback=open_failed,
            on_close_callback=closed,
        )
        self._connection = connection
        self._thread = threading.Thread(target=connection.ioloop.start, name="amqp-publisher", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.timeout) or self._failure:
            failure = self._failure or "timed out opening the channel"
            self._reset()
            raise ConnectionError(failure)

    def _reset(self) -> None:
        connection, thread = self._connection, self._thread
        self._connection, self._channel, self._thread = None, None, None
        if connection is None:
            return

        def shut() -> None:
            if connection.is_open:
                connection.close()  # `closed` stops the loop once the broker answers
            elif not connection.is_closing:
                connection.ioloop.stop()

        try:
            connection.ioloop.add_callback_threadsafe(shut)
        except Exception as exc:  # the loop is already gone
            log.debug("publisher loop already stopped: %s", exc)
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        pending, self._pending = self._pending, []
        for batch in pending:  # never to be confirmed on a closed connection
            batch.confirmation.fail("the publisher was reset")

    def close(self) -> None:
        with self._lock:
            self._reset()


def _properties(original: pika.BasicProperties, headers: dict[str, Any]) -> pika.BasicProperties:
    return pika.BasicProperties(
        message_id=original.message_id,
        type=original.type,
        content_type=original.content_type or CONTENT_TYPE,
        delivery_mode=pika.DeliveryMode.Persistent,
        headers=headers,
    )


def _dead_letter(properties: pika.BasicProperties, body: bytes) -> DeadLetter:
    headers = properties.headers or {}
    error = headers.get(ERROR_HEADER, "")
    if isinstance(error, bytes):
        error = error.decode(errors="replace")
    try:
        envelope = Envelope.FromString(body)
        message_id, event_type = envelope.id, envelope.type
    except Exception:
        message_id, event_type = properties.message_id or "", properties.type or ""
    return DeadLetter(message_id, event_type, str(error), body)


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except Exception as exc:
        log.debug("closing an AMQP connection failed: %s", exc)
