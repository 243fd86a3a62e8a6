"""Campaigns: the resource, the worker that sends due campaigns through `delivery.Delivery`, their
analytics, and the attribution of won deals (docs/adr/0052, 0054)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from crm.sales.v1 import events_pb2 as sales_events
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FieldViolation, InvalidArgument, NotFound
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.updates import apply_mask
from services.marketing import store
from services.marketing.delivery import (
    CAMPAIGN,
    FAILED,
    PENDING,
    RENDER_FAILED,
    SENDING,
    SENT,
    SKIPPED,
    Delivery,
    MessageRecord,
    Outgoing,
    new_message_row,
    record_of,
)
from services.marketing.domain import campaigns as rules
from services.marketing.domain import templating
from services.marketing.domain.campaigns import CampaignFields, Cost
from services.marketing.store import INBOX, AttributionRow, AudienceMemberRow, CampaignRow, MessageRow, SegmentMemberRow

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
SNAPSHOT_CHUNK = 1000
# At most this many recipients per campaign per tick, whatever the rate allows.
BATCH_LIMIT = 200
CONVERSIONS_CONSUMER = "marketing.conversions"


@dataclass(frozen=True)
class CampaignView:
    row: CampaignRow
    fields: CampaignFields
    etag: str


def _fields(row: CampaignRow) -> CampaignFields:
    cost = Cost(row.cost_currency, row.cost_nanos) if row.cost_nanos is not None else None
    return CampaignFields(
        row.name,
        row.segment_id,
        row.template_id,
        row.from_address,
        row.subject,
        row.connection_id,
        row.send_rate_per_minute,
        cost,
    )


def view_of(row: CampaignRow) -> CampaignView:
    fields = _fields(row)
    return CampaignView(row, fields, rules.campaign_etag(row.id, fields, row.status, row.update_time))


def _write(row: CampaignRow, fields: CampaignFields) -> None:
    row.name, row.segment_id, row.template_id = fields.name, fields.segment_id, fields.template_id
    row.from_address, row.subject, row.connection_id = fields.from_address, fields.subject, fields.connection_id
    row.send_rate_per_minute = fields.send_rate_per_minute
    row.cost_currency = fields.cost.currency if fields.cost else ""
    row.cost_nanos = fields.cost.nanos if fields.cost else None


def _check_references(session: Session, tenant_id: str, fields: CampaignFields) -> None:
    check = []
    if store.get_segment(session, tenant_id, fields.segment_id) is None:
        check.append(FieldViolation("segmentId", f"no segment {fields.segment_id}"))
    if store.get_template(session, tenant_id, fields.template_id) is None:
        check.append(FieldViolation("templateId", f"no template {fields.template_id}"))
    if check:
        raise InvalidArgument.of(check)


class Campaigns:
    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def create(self, tenant_id: str, fields: CampaignFields) -> CampaignView:
        fields = rules.normalise(fields)
        now = self.clock()
        with self.database.transaction() as session:
            _check_references(session, tenant_id, fields)
            row = CampaignRow(tenant_id=tenant_id, id=new_id(), status=rules.DRAFT, create_time=now, update_time=now)
            _write(row, fields)
            session.add(row)
            session.flush()
            return view_of(row)

    def get(self, tenant_id: str, campaign_id: str) -> CampaignView:
        with self.database.transaction() as session:
            return view_of(self._row(session, tenant_id, campaign_id))

    def page(self, tenant_id: str, token: str, requested: int) -> tuple[list[CampaignView], str]:
        size = page_size(requested)
        after = decode_cursor(token, "campaigns")
        with self.database.transaction() as session:
            query = sa.select(CampaignRow).where(CampaignRow.tenant_id == tenant_id)
            if after:
                query = query.where(CampaignRow.id > after)
            rows = list(session.scalars(query.order_by(CampaignRow.id).limit(size + 1)))
            page, next_token = page_of(rows, size, lambda r: r.id, "campaigns")
            return [view_of(r) for r in page], next_token

    def update(
        self, tenant_id: str, campaign_id: str, patch: CampaignFields, mask: Sequence[str], etag: str
    ) -> CampaignView:
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, campaign_id, for_update=True)
            current = view_of(row)
            rules.check_etag(campaign_id, current.etag, etag)
            rules.require_status(campaign_id, row.status, (rules.DRAFT,), "be changed")
            merged, changed = apply_mask(current.fields, patch, list(mask), rules.normalise)
            if not changed:
                return current
            if {"segment_id", "template_id"} & set(changed):
                _check_references(session, tenant_id, merged)
            _write(row, merged)
            row.update_time = self.clock()
            return view_of(row)

    def delete(self, tenant_id: str, campaign_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, campaign_id, for_update=True)
            rules.check_etag(campaign_id, view_of(row).etag, etag)
            rules.require_status(campaign_id, row.status, (rules.DRAFT, rules.CANCELLED), "be deleted")
            session.execute(
                sa.delete(MessageRow).where(
                    MessageRow.tenant_id == tenant_id, MessageRow.origin == CAMPAIGN, MessageRow.ref_id == campaign_id
                )
            )
            session.delete(row)

    def schedule(self, tenant_id: str, campaign_id: str, when: dt.datetime | None, etag: str) -> CampaignView:
        now = self.clock()
        if when is not None and when < now - dt.timedelta(minutes=5):
            raise InvalidArgument.of([FieldViolation("scheduleTime", "must not be in the past")])
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, campaign_id, for_update=True)
            rules.check_etag(campaign_id, view_of(row).etag, etag)
            rules.require_status(campaign_id, row.status, (rules.DRAFT,), "be scheduled")
            _check_references(session, tenant_id, _fields(row))
            row.status, row.schedule_time, row.update_time = rules.SCHEDULED, when or now, now
            return view_of(row)

    def cancel(self, tenant_id: str, campaign_id: str, etag: str) -> CampaignView:
        now = self.clock()
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, campaign_id, for_update=True)
            rules.check_etag(campaign_id, view_of(row).etag, etag)
            rules.require_status(campaign_id, row.status, (rules.DRAFT, rules.SCHEDULED, rules.SENDING), "be cancelled")
            row.status, row.finish_time, row.update_time = rules.CANCELLED, now, now
            session.execute(
                sa.update(MessageRow)
                .where(
                    MessageRow.tenant_id == tenant_id,
                    MessageRow.campaign_id == campaign_id,
                    MessageRow.origin == CAMPAIGN,
                    MessageRow.status == PENDING,
                )
                .values(status=SKIPPED, reason="cancelled")
            )
            return view_of(row)

    def messages(
        self, tenant_id: str, campaign_id: str, status: str, token: str, requested: int
    ) -> tuple[list[MessageRecord], str]:
        size = page_size(requested)
        scope = f"campaignMessages:{campaign_id}:{status}"
        after = decode_cursor(token, scope)
        with self.database.transaction() as session:
            self._row(session, tenant_id, campaign_id)
            query = sa.select(MessageRow).where(
                MessageRow.tenant_id == tenant_id, MessageRow.campaign_id == campaign_id, MessageRow.origin == CAMPAIGN
            )
            if status:
                query = query.where(MessageRow.status == status)
            if after:
                query = query.where(MessageRow.id > after)
            rows = list(session.scalars(query.order_by(MessageRow.id).limit(size + 1)))
            page, next_token = page_of(rows, size, lambda r: r.id, scope)
            return [record_of(r) for r in page], next_token

    def analytics(self, tenant_id: str, campaign_id: str) -> Analytics:
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, campaign_id)
            return analytics_of(session, row)

    @staticmethod
    def _row(session: Session, tenant_id: str, campaign_id: str, *, for_update: bool = False) -> CampaignRow:
        row = store.get_campaign(session, tenant_id, campaign_id, for_update=for_update)
        if row is None:
            raise NotFound.resource("campaign", campaign_id)
        return row


# --- analytics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analytics:
    campaign_id: str
    recipients: int
    skipped: int
    render_failed: int
    failed: int
    sent: int
    delivered: int
    bounced: int
    unique_opens: int
    unique_clicks: int
    click_through_rate: float
    unsubscribes: int
    conversions: int
    # currency -> attributed revenue in billionths
    revenue: dict[str, int]
    cost: Cost | None
    roi: float | None


def analytics_of(session: Session, campaign: CampaignRow) -> Analytics:
    of_campaign = sa.and_(
        MessageRow.tenant_id == campaign.tenant_id,
        MessageRow.campaign_id == campaign.id,
        MessageRow.origin == CAMPAIGN,
    )
    by_status = dict(
        session.execute(
            sa.select(MessageRow.status, sa.func.count()).where(of_campaign).group_by(MessageRow.status)
        ).all()
    )
    counts = session.execute(
        sa.select(
            sa.func.count(MessageRow.bounce_time),
            sa.func.count(MessageRow.first_open_time),
            sa.func.count(MessageRow.first_click_time),
            sa.func.count(MessageRow.unsubscribe_time),
        ).where(of_campaign, MessageRow.status == SENT)
    ).one()
    bounced, opens, clicks, unsubscribes = (int(c) for c in counts)
    attributed = session.execute(
        sa.select(AttributionRow.currency, sa.func.sum(AttributionRow.revenue_nanos), sa.func.count())
        .where(AttributionRow.tenant_id == campaign.tenant_id, AttributionRow.campaign_id == campaign.id)
        .group_by(AttributionRow.currency)
    ).all()
    revenue = {currency: int(total) for currency, total, _ in attributed if currency}
    conversions = sum(int(n) for _, _, n in attributed)
    sent = int(by_status.get(SENT, 0))
    delivered = sent - bounced
    cost = _fields(campaign).cost
    return Analytics(
        campaign.id,
        sum(int(n) for n in by_status.values()),
        int(by_status.get(SKIPPED, 0)),
        int(by_status.get(RENDER_FAILED, 0)),
        int(by_status.get(FAILED, 0)),
        sent,
        delivered,
        bounced,
        opens,
        clicks,
        rules.click_through(clicks, delivered),
        unsubscribes,
        conversions,
        revenue,
        cost,
        rules.roi(revenue.get(cost.currency, 0), cost) if cost else None,
    )


# --- the sender ---------------------------------------------------------------------------------


class CampaignSender:
    """The worker: starts due campaigns (snapshotting the segment's members as PENDING records)
    and hands their recipients to `Delivery.send`, at most the campaign's rate, until none is left.

    One replica works on a campaign at a time: it holds a lease (a time on the row, set by one
    conditional UPDATE) rather than a lock across the calls to integrations. Everything it needs to
    resume is in the rows, so a restart continues where it stopped and never sends twice."""

    NAME = "campaign-sender"
    LEASE = dt.timedelta(seconds=120)

    def __init__(
        self, database: Database, delivery: Delivery, clock: Clock = utcnow, poll_seconds: float = 1.0
    ) -> None:
        self.database = database
        self.delivery = delivery
        self.clock = clock
        self.poll_seconds = poll_seconds

    def run(self, stop: threading.Event) -> None:
        # A database or integrations outage must not kill the thread.
        every(self.poll_seconds, self.tick, "campaign sender tick")(stop)

    def tick(self, now: dt.datetime | None = None) -> int:
        """Start due campaigns, then send one budget's worth for each sending one; how many records
        were handled."""
        now = now or self.clock()
        for tenant_id, campaign_id in self._due(now):
            self._start(tenant_id, campaign_id, now)
        handled = 0
        for tenant_id, campaign_id in self._sending():
            handled += self._work(tenant_id, campaign_id, now)
        return handled

    def _due(self, now: dt.datetime) -> list[tuple[str, str]]:
        with self.database.transaction() as session:
            rows = session.execute(
                sa.select(CampaignRow.tenant_id, CampaignRow.id)
                .where(CampaignRow.status == rules.SCHEDULED, CampaignRow.schedule_time <= now)
                .order_by(CampaignRow.schedule_time)
            ).all()
        return [(t, c) for t, c in rows]

    def _sending(self) -> list[tuple[str, str]]:
        with self.database.transaction() as session:
            rows = session.execute(
                sa.select(CampaignRow.tenant_id, CampaignRow.id).where(CampaignRow.status == rules.SENDING)
            ).all()
        return [(t, c) for t, c in rows]

    def _start(self, tenant_id: str, campaign_id: str, now: dt.datetime) -> None:
        """SCHEDULED -> SENDING with one PENDING record per live member of the segment, in one transaction."""
        with self.database.transaction() as session:
            row = store.get_campaign(session, tenant_id, campaign_id, for_update=True)
            if row is None or row.status != rules.SCHEDULED:
                return  # another replica started it, or it was cancelled
            after = ""
            while True:
                ids = list(
                    session.scalars(
                        sa.select(SegmentMemberRow.contact_id)
                        .join(
                            AudienceMemberRow,
                            sa.and_(
                                AudienceMemberRow.tenant_id == SegmentMemberRow.tenant_id,
                                AudienceMemberRow.contact_id == SegmentMemberRow.contact_id,
                            ),
                        )
                        .where(
                            SegmentMemberRow.tenant_id == tenant_id,
                            SegmentMemberRow.segment_id == row.segment_id,
                            SegmentMemberRow.contact_id > after,
                            AudienceMemberRow.deleted.is_(False),
                        )
                        .order_by(SegmentMemberRow.contact_id)
                        .limit(SNAPSHOT_CHUNK)
                    )
                )
                if not ids:
                    break
                session.add_all(
                    new_message_row(tenant_id, CAMPAIGN, campaign_id, c, now, campaign_id=campaign_id) for c in ids
                )
                session.flush()
                after = ids[-1]
            row.status, row.start_time, row.update_time = rules.SENDING, now, now

    def _work(self, tenant_id: str, campaign_id: str, now: dt.datetime) -> int:
        if not self._lease(tenant_id, campaign_id, now):
            return 0
        try:
            return self._send_batch(tenant_id, campaign_id, now)
        finally:
            with self.database.transaction() as session:
                session.execute(
                    sa.update(CampaignRow)
                    .where(CampaignRow.tenant_id == tenant_id, CampaignRow.id == campaign_id)
                    .values(lease_until=None)
                )

    def _lease(self, tenant_id: str, campaign_id: str, now: dt.datetime) -> bool:
        with self.database.transaction() as session:
            taken = session.execute(
                sa.update(CampaignRow)
                .where(
                    CampaignRow.tenant_id == tenant_id,
                    CampaignRow.id == campaign_id,
                    CampaignRow.status == rules.SENDING,
                    sa.or_(CampaignRow.lease_until.is_(None), CampaignRow.lease_until < now),
                )
                .values(lease_until=now + self.LEASE)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _send_batch(self, tenant_id: str, campaign_id: str, now: dt.datetime) -> int:
        of_campaign = sa.and_(
            MessageRow.tenant_id == tenant_id, MessageRow.campaign_id == campaign_id, MessageRow.origin == CAMPAIGN
        )
        with self.database.transaction() as session:
            row = store.get_campaign(session, tenant_id, campaign_id)
            if row is None or row.status != rules.SENDING or row.start_time is None:
                return 0
            template = store.get_template(session, tenant_id, row.template_id)
            processed = session.scalar(
                sa.select(sa.func.count()).where(of_campaign, MessageRow.status.not_in((PENDING, SENDING)))
            )
            budget = min(BATCH_LIMIT, rules.send_budget(row.send_rate_per_minute, row.start_time, now, processed or 0))
            waiting = list(
                session.scalars(
                    sa.select(MessageRow.contact_id)
                    .where(of_campaign, MessageRow.status.in_((PENDING, SENDING)))
                    .order_by(MessageRow.id)
                    .limit(budget)
                )
            )
            campaign = view_of(row)
        if template is None:
            parts = templating.TemplateParts("", "", "")
        else:
            parts = templating.TemplateParts(template.subject, template.html_body, template.text_body)
        fields = campaign.fields
        for contact_id in waiting:
            self.delivery.send(
                Outgoing(
                    tenant_id=tenant_id,
                    contact_id=contact_id,
                    origin=CAMPAIGN,
                    ref_id=campaign_id,
                    template=parts,
                    subject=fields.subject,
                    from_address=fields.from_address,
                    campaign_id=campaign_id,
                    campaign_name=fields.name,
                    connection_id=fields.connection_id,
                )
            )
        with self.database.transaction() as session:
            row = store.get_campaign(session, tenant_id, campaign_id, for_update=True)
            left = session.scalar(
                sa.select(sa.func.count()).where(of_campaign, MessageRow.status.in_((PENDING, SENDING)))
            )
            if row is not None and row.status == rules.SENDING and not left:
                finished = self.clock()
                row.status, row.finish_time, row.update_time = rules.SENT, finished, finished
        return len(waiting)


# --- conversions: won deals attributed to the campaigns the contact engaged with ----------------


def on_opportunity_won(session: Session, envelope: Envelope, event: sales_events.OpportunityWon) -> None:
    """Linear attribution (docs/adr/0054): every campaign whose message the deal's contact opened or
    clicked in the 30 days before the win gets one conversion and an equal share of the amount."""
    deal = event.opportunity
    if not deal.contact_id:
        return
    tenant_id = envelope.tenant
    won = (deal.update_time if deal.HasField("update_time") else envelope.time).ToDatetime(tzinfo=dt.UTC)
    since = won - rules.ATTRIBUTION_WINDOW
    engaged = sa.or_(
        sa.and_(MessageRow.first_open_time >= since, MessageRow.first_open_time <= won),
        sa.and_(MessageRow.first_click_time >= since, MessageRow.first_click_time <= won),
    )
    campaign_ids = list(
        session.scalars(
            sa.select(MessageRow.campaign_id)
            .where(
                MessageRow.tenant_id == tenant_id,
                MessageRow.contact_id == deal.contact_id,
                MessageRow.origin == CAMPAIGN,
                engaged,
            )
            .distinct()
        )
    )
    if not campaign_ids:
        return
    currency = deal.amount.currency_code if deal.HasField("amount") else ""
    total = deal.amount.units * rules.NANOS + deal.amount.nanos if currency else 0
    for campaign_id, share in rules.split_revenue(total, campaign_ids).items():
        if session.get(AttributionRow, (tenant_id, deal.id, campaign_id)) is not None:
            continue  # a deal reopened and won again is credited once
        session.add(
            AttributionRow(
                tenant_id=tenant_id,
                opportunity_id=deal.id,
                campaign_id=campaign_id,
                contact_id=deal.contact_id,
                currency=currency,
                revenue_nanos=share,
                won_time=won,
            )
        )


def conversions_consumer(database: Database) -> EventConsumer:
    return EventConsumer(
        CONVERSIONS_CONSUMER,
        database,
        INBOX,
        [Handles(sales_events.OpportunityWon, on_opportunity_won)],  # type: ignore[arg-type]
    )
