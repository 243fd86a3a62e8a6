"""Vendors' change notifications (QuickBooks and Xero webhooks) on a public route (docs/adr/0059).

The vendor holds no key of ours, so the route is public (docs/adr/0021) and the vendor's signature
is the credential: base64(HMAC-SHA256(the connection's webhook key, the raw body)), in
`intuit-signature` (QuickBooks, its verifier token) or `x-xero-signature` (Xero, its webhook key).
It is checked over the exact bytes before anything is parsed or written; an unknown connection, a
connection without a webhook key, a missing or a wrong signature all answer the same 401, so the
route tells a caller without the key nothing. A verified notification naming the connection's
company (QuickBooks realm, Xero organisation) leaves one pending sync request per connection
(`sync_requests`); the accounting worker runs the incremental sync, so the vendor gets its 200
at once (Xero wants it within 5 seconds, with no body). Xero's "intent to receive" (signed, no
events) is answered 200 and changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import grpc
import sqlalchemy as sa
from crm.integrations.v1 import accounting_pb2, accounting_pb2_grpc
from google.api import httpbody_pb2
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.db import Database, utcnow
from crmkit.errors import Unauthenticated
from services.integrations.accounting.domain import signature_matches
from services.integrations.connections import Connections, Credentials
from services.integrations.store import ConnectionRow, SyncRequestRow

log = logging.getLogger(__name__)

SIGNATURE_HEADERS = {"QUICKBOOKS": "intuit-signature", "XERO": "x-xero-signature"}
REFUSED = "the webhook signature does not verify"


def changes_for(credentials: Credentials, payload: Any) -> int:
    """How many of the notification's changes are about this connection's company."""
    data = credentials.connection.data
    if not isinstance(payload, dict):
        return 0
    if data.type == "QUICKBOOKS":
        return sum(
            len(((n.get("dataChangeEvent") or {}).get("entities")) or [])
            for n in payload.get("eventNotifications") or []
            if isinstance(n, dict) and str(n.get("realmId", "")) == data.realm_id
        )
    return sum(
        1
        for event in payload.get("events") or []
        if isinstance(event, dict) and str(event.get("tenantId", "")) == data.xero_tenant_id
    )


class WebhookIntake:
    def __init__(self, database: Database, connections: Connections, wake: threading.Event) -> None:
        self.database = database
        self.connections = connections
        self.wake = wake

    def receive(self, connection_id: str, body: bytes, headers: Mapping[str, str]) -> int:
        """Verify, then ask for a sync; answers how many changes the notification named."""
        with self.database.transaction() as session:
            row = session.get(ConnectionRow, connection_id) if connection_id else None
            kind, tenant_id = (row.type, row.tenant_id) if row is not None else ("", "")
        header = SIGNATURE_HEADERS.get(kind)
        if header is None:
            raise Unauthenticated(REFUSED)
        credentials = self.connections.credentials(tenant_id, connection_id)
        if not signature_matches(credentials.secrets.webhook_key, body, headers.get(header)):
            log.info("refused a %s webhook for connection %s: bad or missing signature", kind, connection_id)
            raise Unauthenticated(REFUSED)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        changes = changes_for(credentials, payload)
        if changes:
            self.request_sync(tenant_id, connection_id, changes)
        return changes

    def request_sync(self, tenant_id: str, connection_id: str, count: int) -> None:
        with self.database.transaction() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            statement = insert(SyncRequestRow).values(
                connection_id=connection_id, tenant_id=tenant_id, request_time=utcnow(), notification_count=count
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["connection_id"],
                    set_={"notification_count": SyncRequestRow.notification_count + count},
                )
            )
        self.wake.set()

    def take_requests(self) -> list[tuple[str, str]]:
        """The pending requests, removed: a webhook arriving during the sync leaves a new one."""
        with self.database.transaction() as session:
            rows = session.scalars(sa.select(SyncRequestRow).with_for_update(skip_locked=True)).all()
            taken = [(r.tenant_id, r.connection_id) for r in rows]
            for r in rows:
                session.delete(r)
        return taken


class AccountingWebhooksServicer(accounting_pb2_grpc.AccountingWebhooksServiceServicer):
    def __init__(
        self, intake: WebhookIntake, metadata: Callable[[grpc.ServicerContext], Mapping[str, str]] | None = None
    ):
        self.intake = intake
        self.metadata = metadata or (lambda context: {k: v for k, v in context.invocation_metadata()})

    def ReceiveWebhook(
        self, request: accounting_pb2.ReceiveWebhookRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        self.intake.receive(request.connection_id, request.body.data, self.metadata(context))
        return httpbody_pb2.HttpBody()
