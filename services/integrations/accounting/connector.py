"""QuickBooks and Xero as connectors of the registry (docs/adr/0057), and the accounting worker
that runs the syncs signed webhooks ask for and the scheduled ones."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session

from crmkit.errors import NotFound
from crmkit.module import every
from services.integrations.accounting.usecases import Books, Vendor
from services.integrations.accounting.webhooks import WebhookIntake
from services.integrations.connections import Credentials, DeadLetter, SyncRun, SyncState
from services.integrations.connectors import Step, StreamSpec
from services.integrations.connectors.http import HttpApi

log = logging.getLogger(__name__)

# Inbound streams carry the vendor's records; the outbound ones are the CRM's writes that failed.
STREAMS = (
    StreamSpec("customers", cursor_field="updated"),
    StreamSpec("invoices", cursor_field="updated"),
    StreamSpec("payments", cursor_field="updated"),
)


class AccountingConnector:
    def __init__(self, vendor: Vendor, books: Books, api: HttpApi) -> None:
        self.type = vendor.type
        self.streams: tuple[StreamSpec, ...] = STREAMS
        self.vendor = vendor
        self.books = books
        self.api = api

    def check(self, credentials: Credentials) -> tuple[bool, list[Step]]:
        steps = []
        try:
            credentials = self.api.fresh_token(credentials, force=False)
        except Exception as exc:
            return False, [Step("token", False, str(exc)[:500])]
        steps.append(Step("token", True, "access token is valid"))
        try:
            steps.append(Step("read", True, self.vendor.check_read(credentials)))
        except Exception as exc:
            steps.append(Step("read", False, str(exc)[:500]))
        return all(s.ok for s in steps), steps

    def sync(self, credentials: Credentials, run: SyncRun, full_refresh: bool) -> SyncRun:
        return self.books.sync(credentials, run, full_refresh)

    def replay(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        if letter.stream in ("invoices:out", "customers:out"):
            self.books.requeue(session, credentials, letter)
        else:
            self.books.replay_record(session, credentials, letter)


class AccountingWorker:
    """Writes the CRM's queued changes (invoices, renames) as soon as they are queued, and runs the
    syncs signed webhooks asked for as soon as they arrive (the scheduled syncs, the net for lost
    webhooks, are the connectors worker's). Vendor calls happen here, outside any database
    transaction: retries and Retry-After waits hold no locks."""

    def __init__(self, books: Books, sync: SyncState, intake: WebhookIntake, tick_seconds: float = 1.0) -> None:
        self.books = books
        self.sync = sync
        self.intake = intake
        self.tick_seconds = tick_seconds

    def tick(self, stop: threading.Event) -> None:
        self.books.push_due()
        for tenant_id, connection_id in self.intake.take_requests():
            if stop.is_set():
                return
            try:
                credentials = self.sync.connections.credentials(tenant_id, connection_id)
            except NotFound:
                continue  # deleted since
            self.sync.run(credentials, "webhook")

    def run(self, stop: threading.Event) -> None:
        every(self.tick_seconds, lambda: self.tick(stop), "accounting worker tick", wake=self.intake.wake)(stop)
