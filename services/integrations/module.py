"""Composition root of the integrations service: its database and outbox, partner webhooks,
connections with their sync state, email (SMTP out, IMAP capture in), ERP and accounting connectors
(Odoo, QuickBooks Online, Xero) and automation rules — issue #7."""

from __future__ import annotations

import threading
from pathlib import Path

from crm.integrations.v1 import (
    accounting_pb2,
    accounting_pb2_grpc,
    connections_pb2,
    connections_pb2_grpc,
    email_pb2,
    email_pb2_grpc,
)

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.integrations.accounting.connector import AccountingConnector, AccountingWorker
from services.integrations.accounting.directory import AccountingCustomers
from services.integrations.accounting.quickbooks import QuickBooks
from services.integrations.accounting.usecases import ACCOUNTING_TYPES, Books, customer_updates, invoicing
from services.integrations.accounting.webhooks import AccountingWebhooksServicer, WebhookIntake
from services.integrations.accounting.xero import Xero
from services.integrations.api import ConnectionsServicer, EmailServicer
from services.integrations.automation.module import add_automation
from services.integrations.connections import Connections, SyncState
from services.integrations.connectors import Connectors, SyncWorker
from services.integrations.connectors.crm import CrmDirectory
from services.integrations.connectors.http import HttpApi
from services.integrations.email.usecases import (
    Capture,
    Emails,
    EmailWorker,
    ImapConnector,
    SmtpConnector,
    support_replies,
)
from services.integrations.odoo.client import OdooClient
from services.integrations.odoo.connector import OdooConnector, odoo_consumer
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
    box = LazySecretBox(module.database, settings.secret_keys)  # one per process: it reads the generated key once
    deliveries = add_webhooks(module, settings, box)
    connectors = Connectors()
    connections = Connections(module.database, box, connectors)
    sync = SyncState(module.database, connections, connectors)
    module.registrations.append(
        (connections_pb2_grpc.add_ConnectionsServiceServicer_to_server, ConnectionsServicer(connections, sync))
    )
    module.grpc_services.append(connections_pb2.DESCRIPTOR.services_by_name["ConnectionsService"].full_name)
    emails = add_email(module, settings, connectors, sync)
    # HTTP-API connectors (docs/adr/0057): one HTTP client (one budget per connection) and one CRM
    # directory for all of them.
    api = HttpApi(sync.connections)
    crm = CrmDirectory(module, settings.grpc_addr("contacts"), settings.grpc_deadline_seconds)
    add_erp(module, connectors, sync, api, crm)
    add_accounting(module, connectors, sync, api, crm)
    types = ("ODOO", *ACCOUNTING_TYPES)
    module.workers.append(("connectors", SyncWorker(sync, types, settings.connector_poll_seconds).run))
    add_automation(module, settings, emails, deliveries)
    module.consumers.append(privacy_consumer(database, outbox))
    return module


def add_erp(module: ServiceModule, connectors: Connectors, sync: SyncState, api: HttpApi, crm: CrmDirectory) -> None:
    """Odoo (docs/adr/0058)."""
    odoo = OdooConnector(module.database, sync.connections, OdooClient(api), crm)
    connectors.register(odoo)
    module.consumers.append(odoo_consumer(module.database, odoo))


def add_email(module: ServiceModule, settings: Settings, connectors: Connectors, sync: SyncState) -> Emails:
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
    return emails


def add_accounting(
    module: ServiceModule, connectors: Connectors, sync: SyncState, api: HttpApi, crm: CrmDirectory
) -> None:
    """QuickBooks Online and Xero (docs/adr/0059, 0060); their scheduled syncs are the connectors
    worker's, the accounting worker writes queued changes and runs the syncs webhooks ask for."""
    database, outbox = module.database, module.outbox
    assert outbox is not None
    directory = AccountingCustomers(crm)
    vendors = {v.type: v for v in (QuickBooks(api), Xero(api))}
    wake = threading.Event()  # a write queued or a sync asked for: the worker goes at once
    books = Books(database, outbox, sync.connections, vendors, directory, wake)  # type: ignore[arg-type]
    for vendor in vendors.values():
        connectors.register(AccountingConnector(vendor, books, api))  # type: ignore[arg-type]
    intake = WebhookIntake(database, sync.connections, wake)
    module.registrations.append(
        (accounting_pb2_grpc.add_AccountingWebhooksServiceServicer_to_server, AccountingWebhooksServicer(intake))
    )
    module.grpc_services.append(accounting_pb2.DESCRIPTOR.services_by_name["AccountingWebhooksService"].full_name)
    module.consumers += [invoicing(database, books), customer_updates(database, books)]
    module.workers.append(("accounting", AccountingWorker(books, sync, intake).run))
