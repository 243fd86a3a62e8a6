"""Wiring of the webhooks feature into the integrations service (called from its composition root)."""

from __future__ import annotations

import datetime as dt

from crm.integrations.v1 import webhooks_pb2, webhooks_pb2_grpc

from crmkit.config import Settings
from crmkit.module import ServiceModule
from services.integrations.secrets import LazySecretBox
from services.integrations.webhooks.api import WebhooksServicer
from services.integrations.webhooks.domain import FailurePolicy
from services.integrations.webhooks.events import webhook_fan_out
from services.integrations.webhooks.sender import Sender
from services.integrations.webhooks.usecases import DeliveryWorker, Webhooks


def add_webhooks(module: ServiceModule, settings: Settings, box: LazySecretBox) -> DeliveryWorker:
    """`box`: the service's one secret box (signing secrets are sealed with the same keys as passwords)."""
    database = module.database
    sender = Sender(settings.webhooks_timeout_seconds, settings.webhooks_allow_loopback)
    policy = FailurePolicy(
        max_attempts=settings.webhooks_max_attempts,
        after_failures=settings.webhooks_disable_after_failures,
        after=dt.timedelta(hours=settings.webhooks_disable_after_hours),
    )
    worker = DeliveryWorker(
        database, box, sender, policy, settings.webhooks_retry_base_seconds, settings.webhooks_poll_seconds
    )
    webhooks = Webhooks(database, box, settings.webhooks_allow_loopback)
    module.registrations.append((webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server, WebhooksServicer(webhooks)))
    module.grpc_services.append(webhooks_pb2.DESCRIPTOR.services_by_name["WebhooksService"].full_name)
    module.consumers.append(webhook_fan_out(database, worker))
    module.workers.append(("webhook-deliveries", worker.run))
    return worker
