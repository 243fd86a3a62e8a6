"""Publisher confirms of several batches in flight on one channel settle each batch on its own."""

from types import SimpleNamespace

import pika
import pytest

from crmkit.events.rabbitmq import RabbitBus, RabbitPublisher, _InFlight
from crmkit.events.transport import Confirmation


def publisher_with(*tag_ranges: range) -> tuple[RabbitPublisher, list[Confirmation]]:
    publisher = RabbitPublisher(RabbitBus("amqp://guest:guest@127.0.0.1:1/%2F"))  # never connects here
    confirmations = [Confirmation(len(tags)) for tags in tag_ranges]
    publisher._pending = [_InFlight(c, set(tags)) for c, tags in zip(confirmations, tag_ranges, strict=True)]
    return publisher, confirmations


def ack(tag: int, multiple: bool = False) -> SimpleNamespace:
    return SimpleNamespace(method=pika.spec.Basic.Ack(delivery_tag=tag, multiple=multiple))


def nack(tag: int) -> SimpleNamespace:
    return SimpleNamespace(method=pika.spec.Basic.Nack(delivery_tag=tag))


def test_a_multiple_ack_settles_every_batch_it_covers_and_part_of_the_next():
    publisher, (first, second, third) = publisher_with(range(1, 4), range(4, 7), range(7, 9))
    publisher._on_confirm(ack(5, multiple=True))
    assert first.done.is_set() and not first.refused
    assert not second.done.is_set() and not third.done.is_set()
    publisher._on_confirm(ack(6))
    assert second.done.is_set()
    assert [b.confirmation for b in publisher._pending] == [third]


def test_a_nack_fails_only_its_own_batch():
    publisher, (first, second) = publisher_with(range(1, 3), range(3, 5))
    publisher._on_confirm(ack(1))
    publisher._on_confirm(nack(2))
    publisher._on_confirm(ack(4, multiple=True))
    assert first.done.is_set() and first.refused == 1
    assert second.done.is_set() and second.refused == 0
    assert publisher._pending == []
    with pytest.raises(RuntimeError, match="refused 1 of 2"):
        first.wait(0)
    second.wait(0)


def test_a_lost_connection_fails_every_batch_in_flight():
    publisher, confirmations = publisher_with(range(1, 3), range(3, 5))
    publisher._fail("connection closed")
    assert all(c.done.is_set() and c.failure == "connection closed" for c in confirmations)
    with pytest.raises(ConnectionError):
        confirmations[1].wait(0)
