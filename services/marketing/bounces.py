"""Bounces and complaints reported by integrations (an SMTP refusal while sending, a captured
delivery status notification or abuse report) applied to marketing's messages. docs/adr/0067.

For a message marketing sent (found by its Message-ID): the record is marked, and the contract
event `EmailBounced` / `EmailComplained` is written through the outbox, so the engagement log
(which suppresses: docs/adr/0050), campaign analytics, lead scoring and the timeline see it as
before. Once per message: a second report changes nothing, except a soft bounce turning hard.
For mail marketing did not send (a support reply), a hard bounce or a complaint still suppresses
the address for marketing; a soft bounce is only logged.
"""

from __future__ import annotations

import datetime as dt
import logging

from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import events_pb2 as integrations_events
from crm.marketing.v1 import events_pb2 as marketing_events
from google.protobuf import timestamp_pb2
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox
from services.marketing import store
from services.marketing.delivery import engagement_of
from services.marketing.domain import consent
from services.marketing.store import INBOX

log = logging.getLogger(__name__)
CONSUMER = "marketing.bounces"
# RFC 6430: the recipient says the message is NOT spam; that is no complaint.
NOT_SPAM = "not-spam"


def _when(stamp: timestamp_pb2.Timestamp, envelope: Envelope, has: bool) -> dt.datetime:
    return (stamp if has else envelope.time).ToDatetime(tzinfo=dt.UTC)


def _suppress_unknown(session: Session, tenant_id: str, address: str, reason: str, when: dt.datetime) -> None:
    """A report about mail marketing did not send: the address is suppressed all the same."""
    if address:
        store.suppress(session, tenant_id, store.Suppressed(consent.normalise_email(address), reason, "", when))


def _engagement(session: Session, row: store.MessageRow, when: dt.datetime) -> marketing_events.Engagement:
    campaign = store.get_campaign(session, row.tenant_id, row.campaign_id) if row.campaign_id else None
    return engagement_of(row, campaign.name if campaign is not None else "", when)


def bounce_consumer(database: Database, outbox: Outbox) -> EventConsumer:
    def on_bounce(session: Session, envelope: Envelope, event: integrations_events.EmailBounceReceived) -> None:
        when = _when(event.occur_time, envelope, event.HasField("occur_time"))
        row = store.message_by_rfc_id(session, envelope.tenant, event.original_message_id)
        if row is None:
            log.info("bounce for a message marketing did not send (%s)", "hard" if event.permanent else "soft")
            if event.permanent:
                _suppress_unknown(session, envelope.tenant, event.recipient, consent.HARD_BOUNCE, when)
            return
        if row.bounce_time is not None and (row.bounce_hard or not event.permanent):
            return  # already recorded (a redelivered or duplicate report)
        if row.bounce_time is None:
            row.bounce_time = when
        row.bounce_hard = event.permanent
        reason = " ".join(p for p in (event.status, event.diagnostic) if p)[:500]
        bounced = marketing_events.EmailBounced(
            engagement=_engagement(session, row, when), hard=event.permanent, reason=reason
        )
        outbox.add(session, bounced, tenant_id=row.tenant_id, subject=row.contact_id)

    def on_complaint(session: Session, envelope: Envelope, event: integrations_events.EmailComplaintReceived) -> None:
        if event.feedback_type == NOT_SPAM:
            return
        when = _when(event.occur_time, envelope, event.HasField("occur_time"))
        row = store.message_by_rfc_id(session, envelope.tenant, event.original_message_id)
        if row is None:
            _suppress_unknown(session, envelope.tenant, event.recipient, consent.COMPLAINT, when)
            return
        if row.complaint_time is not None:
            return
        row.complaint_time = when
        complained = marketing_events.EmailComplained(engagement=_engagement(session, row, when))
        outbox.add(session, complained, tenant_id=row.tenant_id, subject=row.contact_id)

    return EventConsumer(
        CONSUMER,
        database,
        INBOX,
        [
            Handles(integrations_events.EmailBounceReceived, on_bounce),  # type: ignore[arg-type]
            Handles(integrations_events.EmailComplaintReceived, on_complaint),  # type: ignore[arg-type]
        ],
    )
