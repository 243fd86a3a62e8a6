"""Composition root of the integrations service: its database and outbox, partner webhooks,
connections with their sync state, email (SMTP out, IMAP capture in) and automation rules — issue #7."""

from __future__ import annotations

from pathlib import Path

from crm.integrations.v1 import connections_pb2, connections_pb2_grpc, email_pb2, email_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.integrations.api import ConnectionsServicer, EmailServicer
from services.integrations.automation.module import add_automation
from services.integrations.connections import Connections, SyncState
from services.integrations.email.usecases import Capture, Emails, EmailWorker, support_replies
from services.integrations.privacy import privacy_consumer
from services.integrations.secrets import LazySecretBox
from services.integrations.store import OUTBOX
from services.integrations.webhooks.module import add_webhooks

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "integrations"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    module = ServiceModule(NAME, database, MIGRATIONS, outbox=outbox)
    deliveries = add_webhooks(module, settings)
    emails = add_email(module, settings)
    add_automation(module, settings, emails, deliveries)
    module.consumers.append(privacy_consumer(database, outbox))
    return module


def add_email(module: ServiceModule, settings: Settings) -> Emails:
    database, outbox = module.database, module.outbox
    assert outbox is not None
    connections = Connections(database, LazySecretBox(database, settings.secret_keys))
    sync = SyncState(database, connections)
    capture = Capture(database, outbox)
    sync.syncers["IMAP"] = capture.sync
    sync.replayers["imap"] = capture.replay
    emails = Emails(database, outbox, connections)
    module.registrations += [
        (connections_pb2_grpc.add_ConnectionsServiceServicer_to_server, ConnectionsServicer(connections, sync)),
        (email_pb2_grpc.add_EmailServiceServicer_to_server, EmailServicer(emails)),
    ]
    module.grpc_services += [
        connections_pb2.DESCRIPTOR.services_by_name["ConnectionsService"].full_name,
        email_pb2.DESCRIPTOR.services_by_name["EmailService"].full_name,
    ]
    module.consumers.append(support_replies(database, emails))
    module.workers.append(("email", EmailWorker(emails, sync, settings.imap_poll_seconds).run))
    return emails
