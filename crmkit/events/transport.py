"""What a transport must do; RabbitMQ (pika) and the in-process bus both implement it.

The delivery guarantees live above this line (outbox, relay, inbox), so both transports run the
same outbox/inbox code: a transport only publishes with confirmation and delivers with acks.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    event_type: str  # also the routing key
    body: bytes  # a serialized Envelope
    headers: dict[str, str] = field(default_factory=dict)


class Verdict(enum.Enum):
    ACK = "ack"  # handled, or a duplicate, or not for this consumer
    RETRY = "retry"  # failed; deliver again after a back-off
    DEAD_LETTER = "dead_letter"  # failed for good; park it where an operator can replay it


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    error: str = ""


@dataclass(frozen=True)
class Delivery:
    body: bytes
    attempt: int  # how many times it was tried before


# Given the deliveries at hand, decide what happens to each (one Outcome per delivery, in order).
# Every outcome must be final when it returns: the transport acks them all at once (docs/adr/0031).
BatchHandler = Callable[[Sequence[Delivery]], list[Outcome]]


@dataclass(frozen=True)
class Subscription:
    consumer: str  # unique name, e.g. "marketing.contact-projection"; one durable queue each
    bindings: tuple[str, ...]  # event types (AMQP topic patterns)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    event_type: str
    error: str
    body: bytes


@dataclass(frozen=True)
class QueueStats:
    ready: int  # deliveries waiting in the consumer's queue (its lag)
    dead_letters: int


class Confirmation:
    """The transport's answer to one published batch: settled once every message is confirmed, or
    failed by a refusal or a lost connection. `notify` is set when it settles either way."""

    def __init__(self, count: int, notify: threading.Event | None = None) -> None:
        self.count = count
        self.done = threading.Event()
        self.refused = 0
        self.failure = ""
        self._notify = notify
        self._lock = threading.Lock()

    def settle(self, refused: int = 0) -> None:
        self._finish(refused, "")

    def fail(self, reason: str) -> None:
        self._finish(0, reason)

    def _finish(self, refused: int, failure: str) -> None:
        with self._lock:
            if self.done.is_set():
                return
            self.refused, self.failure = refused, failure
            self.done.set()
        if self._notify is not None:
            self._notify.set()

    def wait(self, timeout: float) -> None:
        """Return once every message is confirmed; raise if any was refused, the connection failed,
        or no answer came within `timeout` seconds."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"the broker did not confirm {self.count} messages in {timeout}s")
        if self.failure:
            raise ConnectionError(self.failure)
        if self.refused:
            raise RuntimeError(f"the broker refused {self.refused} of {self.count} messages")


class Publisher(Protocol):
    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Return only once the transport has confirmed every message; raise otherwise."""

    def send(self, messages: Sequence[OutgoingMessage], notify: threading.Event | None = None) -> Confirmation:
        """Start publishing and return at once; the Confirmation settles when the transport has
        confirmed every message (so a caller can publish the next batch meanwhile)."""

    def close(self) -> None: ...


class Bus(Protocol):
    def publisher(self) -> Publisher: ...

    def declare(self, subscription: Subscription) -> None:
        """Create the subscription's queue, bindings, retry and dead-letter queues (idempotent)."""

    def consume(self, subscription: Subscription, handler: BatchHandler, stop: threading.Event) -> None:
        """Deliver in batches of what is waiting until `stop` is set, acting on each Outcome. Blocks;
        run it in a thread."""

    def dead_letters(self, consumer: str, limit: int = 100) -> list[DeadLetter]: ...

    def stats(self, consumer: str) -> QueueStats: ...

    def replay_dead_letters(self, consumer: str, limit: int | None = None) -> int:
        """Move dead letters back to the consumer's queue; returns how many moved."""

    def close(self) -> None: ...


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic semantics: words split on '.', '*' is one word, '#' zero or more."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
