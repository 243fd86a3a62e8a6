"""Wiring of the webhooks feature into the integrations service (called from its composition root)."""

from __future__ import annotations

import datetime as dt

from crm.integrations.v1 import webhooks_pb2, webhooks_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.module import ServiceModule
from crmkit.secretbox import SecretBox
from services.integrations.webhooks import store
from services.integrations.webhooks.api import WebhooksServicer
from services.integrations.webhooks.domain import FailurePolicy
from services.integrations.webhooks.events import webhook_fan_out
from services.integrations.webhooks.sender import Sender
from services.integrations.webhooks.usecases import DeliveryWorker, Webhooks


class LazySecretBox(SecretBox):
    """CRM_SECRET_KEYS first; then the key the migration generated (read on first use, since the
    module is built before migrations may have run)."""

    def __init__(self, database: Database, configured: tuple[str, ...]) -> None:
        self.database = database
        self.configured = configured
        self._ready = False

    def _load(self) -> None:
        if self._ready:
            return
        with self.database.transaction() as session:
            generated = store.generated_key(session)
        SecretBox.__init__(self, [*self.configured, *([generated] if generated else [])])
        self._ready = True

    def seal(self, plaintext: str) -> str:
        self._load()
        return super().seal(plaintext)

    def open(self, sealed: str) -> str:
        self._load()
        return super().open(sealed)

    def rotate(self, sealed: str) -> str:
        self._load()
        return super().rotate(sealed)


def add_webhooks(module: ServiceModule, settings: Settings) -> None:
    database = module.database
    if settings.secret_keys:
        SecretBox(settings.secret_keys)  # fail fast on a malformed key
    box = LazySecretBox(database, settings.secret_keys)
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
