"""What the public tracking routes do: an open, a click, a one-click unsubscribe (docs/adr/0053).

The routes carry no credentials (crm.common.v1.public): the signed token in the path is the only
authority, and the tenant comes from it, never from the caller. Anything we did not sign, or a
message we do not know, is 404.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections.abc import Callable, Mapping

from crm.marketing.v1 import events_pb2 as marketing_events
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FieldViolation, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from services.marketing import store, usecases
from services.marketing.delivery import SENT, engagement_of
from services.marketing.domain import tracking
from services.marketing.domain.tracking import BadToken, Claims, Signer, TrackingUrls
from services.marketing.store import MessageRow

TRACKING_KEY = "tracking_signing_key"
NOT_FOUND = "no such tracking link"


class TrackingKey:
    """The key that signs tracking links: CRM_TRACKING_SECRET when set, else the random key the
    migration stored (read once, when first needed)."""

    def __init__(self, database: Database, configured: str, base_url: str) -> None:
        self.database = database
        self.configured = configured
        self.base_url = base_url.rstrip("/")
        self._urls: TrackingUrls | None = None
        self._lock = threading.Lock()

    def urls(self) -> TrackingUrls:
        with self._lock:
            if self._urls is None:
                secret = self.configured
                if not secret:
                    with self.database.transaction() as session:
                        secret = store.secret(session, TRACKING_KEY)
                self._urls = TrackingUrls(Signer(secret.encode()), self.base_url)
            return self._urls


class Tracking:
    def __init__(self, database: Database, outbox: Outbox, key: TrackingKey, clock: Callable[[], dt.datetime] = utcnow):
        self.database = database
        self.outbox = outbox
        self.key = key
        self.clock = clock

    def _claims(self, kind: str, token: str) -> Claims:
        try:
            return self.key.urls().signer.verify(kind, token)
        except BadToken:
            raise NotFound(NOT_FOUND) from None

    @staticmethod
    def _message(session: Session, claims: Claims) -> MessageRow:
        row = store.get_message(session, claims.tenant_id, claims.message_id, for_update=True)
        if row is None or row.status != SENT:
            raise NotFound(NOT_FOUND)
        return row

    def _emit(self, session: Session, row: MessageRow, event_type: type, now: dt.datetime, **fields: str) -> None:
        campaign = store.get_campaign(session, row.tenant_id, row.campaign_id) if row.campaign_id else None
        engagement = engagement_of(row, campaign.name if campaign else "", now)
        event = event_type(engagement=engagement, **fields)
        self.outbox.add(session, event, tenant_id=row.tenant_id, subject=row.contact_id)

    def opened(self, token: str) -> bytes:
        """The 1x1 GIF; the first open of the message is recorded and published (unique opens)."""
        claims = self._claims(tracking.OPEN, token)
        now = self.clock()
        with self.database.transaction() as session:
            row = self._message(session, claims)
            row.open_count += 1
            if row.first_open_time is None:
                row.first_open_time = now
                self._emit(session, row, marketing_events.EmailOpened, now)
        return tracking.PIXEL_GIF

    def clicked(self, token: str) -> str:
        """Where to redirect: the signed URL, only when it is one of the message's own links."""
        claims = self._claims(tracking.CLICK, token)
        now = self.clock()
        with self.database.transaction() as session:
            row = self._message(session, claims)
            if claims.url not in row.links:
                raise NotFound(NOT_FOUND)
            if row.first_click_time is None:
                row.first_click_time = now
            if claims.url not in row.clicked_urls:
                row.clicked_urls = [*row.clicked_urls, claims.url]
                self._emit(session, row, marketing_events.EmailClicked, now, url=claims.url)
        return claims.url

    def unsubscribe_page(self, token: str) -> str:
        """What a GET of the unsubscribe link shows: a button that POSTs the one-click form. It
        changes nothing (link scanners and prefetchers GET every link in a message)."""
        self._claims(tracking.UNSUBSCRIBE, token)
        action = html.escape(token, quote=True)
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head><body>'
            "<p>Stop receiving these emails?</p>"
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form></body></html>'
        )

    def unsubscribe(self, token: str, form: Mapping[str, str]) -> None:
        """RFC 8058 one-click: a POST with `List-Unsubscribe=One-Click` unsubscribes the contact
        from email at once (every later send's `may_send` sees it). Repeating it changes nothing."""
        claims = self._claims(tracking.UNSUBSCRIBE, token)
        if form.get("List-Unsubscribe") != "One-Click":
            raise InvalidArgument.of([FieldViolation("List-Unsubscribe", "must be One-Click (RFC 8058)")])
        now = self.clock()
        with self.database.transaction() as session:
            row = self._message(session, claims)
            usecases.record_unsubscribe(session, row.tenant_id, row.contact_id, "email", now)
            if row.unsubscribe_time is None:
                row.unsubscribe_time = now
                self._emit(session, row, marketing_events.Unsubscribed, now, channel="email")
