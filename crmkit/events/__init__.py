"""Events: transactional outbox, relay, idempotent consumers, over RabbitMQ or in-process."""

from __future__ import annotations

from crmkit.config import Settings
from crmkit.events.transport import Bus


def make_bus(settings: Settings) -> Bus:
    if settings.bus == "rabbitmq":
        from crmkit.events.rabbitmq import RabbitBus

        return RabbitBus(
            settings.amqp_url,
            settings.amqp_prefix,
            settings.retry_delays_ms,
            settings.consumer_prefetch,
            settings.consumer_batch_size,
        )
    from crmkit.events.inprocess import InProcessBus

    return InProcessBus(settings.retry_delays_ms, settings.consumer_batch_size)
