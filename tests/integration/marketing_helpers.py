"""What marketing's send tests share: a real SMTP server (aiosmtpd) behind the real integrations
service with an SMTP connection for tenant A, and audience members with consent decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from crm.integrations.v1 import connections_pb2

from crmkit.db import Database
from crmkit.secretbox import new_key
from services.marketing import store
from services.marketing.domain import AudienceMember
from services.marketing.domain.consent import ConsentRequest
from services.marketing.domain.templating import TemplateParts
from services.marketing.usecases import Consent
from tests.integration.support_helpers import as_
from tests.integration.test_integrations_email import ADMIN_A, Integrations, smtp_connection
from tests.mailservers import Certificate, SmtpServer

__all__ = ["Integrations", "SmtpServer"]
T = "TENANT_A"
TEMPLATE = TemplateParts(
    "Hello {{ contact.givenName | default('there') }}",
    '<p>Hi {{ contact.givenName }}</p><a href="https://shop.example.com/spring?a=1&amp;b=2">Shop</a>'
    '<a href="mailto:help@example.com">mail us</a><a href="{{ unsubscribeUrl }}">unsubscribe</a>',
    "Hi {{ contact.givenName }} {{ contact.customFields.plan }}",
)


def start_integrations_with_smtp(database: Database, smtp: SmtpServer, certificate: Certificate) -> Integrations:
    """The integrations service with tenant A's SMTP connection to `smtp`."""
    running = Integrations(database, new_key())
    running.connections.CreateConnection(
        connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, smtp.password)),
        metadata=as_(ADMIN_A),
    )
    return running


def start_smtp(certificate: Certificate, folder: Path) -> SmtpServer:
    return SmtpServer(certificate).start(folder)


def member(database: Database, contact_id: str, email: str, subscribed: bool | None, **custom: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with database.transaction() as session:
        store.put(
            session, AudienceMember(T, contact_id, email, contact_id.title(), "", "LEAD", (), now, custom_fields=custom)
        )
    if subscribed is None:
        return
    consent = Consent(database)
    consent.update(T, contact_id, ConsentRequest("email", "SUBSCRIBED", "CONSENT", "signup form", False))
    if not subscribed:
        consent.update(T, contact_id, ConsentRequest("email", "UNSUBSCRIBED", "CONSENT", "phone call", False))
