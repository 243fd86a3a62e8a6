"""The in-process transport of the `all` target: routing, retries with back-off, dead letters."""

import threading
import time

from crm.events.v1.envelope_pb2 import Envelope

from crmkit.events.inprocess import InProcessBus
from crmkit.events.transport import Outcome, OutgoingMessage, Subscription, Verdict


def message(event_type: str, message_id: str) -> OutgoingMessage:
    return OutgoingMessage(message_id, event_type, Envelope(id=message_id, type=event_type).SerializeToString())


def run_consumer(bus: InProcessBus, subscription: Subscription, handler) -> threading.Event:
    """`handler(body, attempt)` for each delivery of every batch the bus hands over."""
    stop = threading.Event()

    def batches(deliveries):
        return [handler(d.body, d.attempt) for d in deliveries]

    threading.Thread(target=bus.consume, args=(subscription, batches, stop), daemon=True).start()
    return stop


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_messages_reach_only_subscriptions_bound_to_their_type():
    bus = InProcessBus()
    seen: dict[str, list[str]] = {"a": [], "b": []}
    stops = []
    for name, binding in (("a", "crm.contacts.v1.*"), ("b", "crm.sales.v1.DealWon")):
        sub = Subscription(name, (binding,))
        bus.declare(sub)
        stops.append(
            run_consumer(
                bus, sub, lambda body, _n, k=name: seen[k].append(Envelope.FromString(body).id) or Outcome(Verdict.ACK)
            )
        )
    bus.publish([message("crm.contacts.v1.ContactCreated", "m1"), message("crm.sales.v1.DealWon", "m2")])
    wait_for(lambda: seen["a"] and seen["b"])
    assert seen == {"a": ["m1"], "b": ["m2"]}
    for stop in stops:
        stop.set()


def test_a_failing_delivery_is_retried_with_growing_attempts_then_dead_lettered_and_replayable():
    bus = InProcessBus(retry_delays_ms=(10, 20))
    sub = Subscription("c", ("t.x",))
    attempts: list[int] = []

    def always_fail(_body: bytes, attempt: int) -> Outcome:
        attempts.append(attempt)
        return Outcome(Verdict.RETRY if attempt < 2 else Verdict.DEAD_LETTER, "boom")

    bus.declare(sub)
    stop = run_consumer(bus, sub, always_fail)
    bus.publish([message("t.x", "m1")])
    wait_for(lambda: bus.dead_letters("c"))
    assert attempts == [0, 1, 2]
    [letter] = bus.dead_letters("c")
    assert (letter.message_id, letter.error) == ("m1", "boom")
    assert bus.replay_dead_letters("c") == 1
    wait_for(lambda: len(attempts) == 4)
    assert attempts[-1] == 0
    stop.set()
    bus.close()
