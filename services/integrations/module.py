"""Composition root of the integrations service: its database and outbox, partner webhooks,
connections with their sync state, and email (SMTP out, IMAP capture in) — issue #7."""

from __future__ import annotations

from pathlib import Path

from crm.integrations.v1 import connections_pb2, connections_pb2_grpc, email_pb2, email_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.integrations.api import ConnectionsServicer, EmailServicer
from services.integrations.connections import Connections, SyncState
from services.integrations.connectors import Connectors
from services.integrations.email.usecases import (
    Capture,
    Emails,
    EmailWorker,
    ImapConnector,
    SmtpConnector,
    support_replies,
)
from services.integrations.secrets import LazySecretBox
from services.integrations.store import OUTBOX
from services.integrations.webhooks.module import add_webhooks

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "integrations"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    module = ServiceModule(NAME, database, MIGRATIONS, outbox=outbox)
    add_webhooks(module, settings)
    connectors = Connectors()
    connections = Connections(module.database, LazySecretBox(module.database, settings.secret_keys), connectors)
    sync = SyncState(module.database, connections, connectors)
    module.registrations.append(
        (connections_pb2_grpc.add_ConnectionsServiceServicer_to_server, ConnectionsServicer(connections, sync))
    )
    module.grpc_services.append(connections_pb2.DESCRIPTOR.services_by_name["ConnectionsService"].full_name)
    add_email(module, settings, connectors, sync)
    return module


def add_email(module: ServiceModule, settings: Settings, connectors: Connectors, sync: SyncState) -> None:
    database, outbox = module.database, module.outbox
    assert outbox is not None
    capture = Capture(database, outbox)
    connectors.register(SmtpConnector())
    connectors.register(ImapConnector(capture))
    emails = Emails(database, outbox, sync.connections)
    module.registrations += [
        (email_pb2_grpc.add_EmailServiceServicer_to_server, EmailServicer(emails)),
    ]
    module.grpc_services += [email_pb2.DESCRIPTOR.services_by_name["EmailService"].full_name]
    module.consumers.append(support_replies(database, emails))
    module.workers.append(("email", EmailWorker(emails, sync, settings.imap_poll_seconds).run))
