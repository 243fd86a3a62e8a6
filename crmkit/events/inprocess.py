"""The in-process transport for the `all` target: the same outbox, relay and inbox code, no broker.

What it cannot give is durability across a crash of the process between the relay's publish and
the consumer's commit; the embedded mode is for first runs, demos and fast tests (ADR 0002).
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Sequence

from crm.events.v1.envelope_pb2 import Envelope

from crmkit.events.transport import (
    BatchHandler,
    Confirmation,
    DeadLetter,
    Delivery,
    OutgoingMessage,
    QueueStats,
    Subscription,
    Verdict,
    topic_matches,
)


class InProcessBus:
    def __init__(self, retry_delays_ms: Sequence[int] = (1000, 5000, 30000), batch_size: int = 64) -> None:
        self.retry_delays = [d / 1000 for d in retry_delays_ms]
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[Delivery]] = {}
        self._bindings: dict[str, tuple[str, ...]] = {}
        self._dead: dict[str, list[DeadLetter]] = defaultdict(list)
        self._timers: set[threading.Timer] = set()

    def publisher(self) -> InProcessBus:
        return self

    def declare(self, subscription: Subscription) -> None:
        with self._lock:
            self._queues.setdefault(subscription.consumer, queue.Queue())
            self._bindings[subscription.consumer] = subscription.bindings

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        with self._lock:
            targets = list(self._bindings.items())
        for message in messages:
            for consumer, patterns in targets:
                if any(topic_matches(p, message.event_type) for p in patterns):
                    self._queues[consumer].put(Delivery(message.body, 0))

    def send(self, messages: Sequence[OutgoingMessage], notify: threading.Event | None = None) -> Confirmation:
        """Queued in memory at once, so confirmed at once."""
        self.publish(messages)
        confirmation = Confirmation(len(messages), notify)
        confirmation.settle()
        return confirmation

    def consume(self, subscription: Subscription, handler: BatchHandler, stop: threading.Event) -> None:
        self.declare(subscription)
        inbox = self._queues[subscription.consumer]
        while not stop.is_set():
            try:
                batch = [inbox.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < self.batch_size:  # and whatever else is waiting already
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            for delivery, outcome in zip(batch, handler(batch), strict=True):
                if outcome.verdict is Verdict.RETRY:
                    delay = self.retry_delays[min(delivery.attempt, len(self.retry_delays) - 1)]
                    self._later(delay, inbox, Delivery(delivery.body, delivery.attempt + 1))
                elif outcome.verdict is Verdict.DEAD_LETTER:
                    envelope = _envelope_or_empty(delivery.body)
                    with self._lock:
                        self._dead[subscription.consumer].append(
                            DeadLetter(envelope.id, envelope.type, outcome.error, delivery.body)
                        )

    def _later(self, delay: float, target: queue.Queue[Delivery], delivery: Delivery) -> None:
        def fire() -> None:
            target.put(delivery)
            with self._lock:
                self._timers.discard(timer)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def stats(self, consumer: str) -> QueueStats:
        with self._lock:
            waiting = self._queues.get(consumer)
            return QueueStats(waiting.qsize() if waiting else 0, len(self._dead.get(consumer, [])))

    def dead_letters(self, consumer: str, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            return list(self._dead.get(consumer, []))[:limit]

    def replay_dead_letters(self, consumer: str, limit: int | None = None) -> int:
        with self._lock:
            parked = self._dead.get(consumer, [])
            moved, self._dead[consumer] = parked[:limit], parked[len(parked[:limit]) :]
            target = self._queues.get(consumer)
        for letter in moved:
            if target is not None:
                target.put(Delivery(letter.body, 0))
        return len(moved)

    def close(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()


def _envelope_or_empty(body: bytes) -> Envelope:
    try:
        return Envelope.FromString(body)
    except Exception:
        return Envelope()
